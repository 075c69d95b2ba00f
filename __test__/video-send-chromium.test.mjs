// Issue #13, sending video: headless Chromium (SIP.js, fake camera and microphone)
// calls a sipwire bot through Kamailio with audio and video. The bot answers video
// sendrecv and sends a clip made by ffmpeg (testsrc 320x240, VP8 in IVF and H.264
// Annex B) with playVideo, looping; the page decodes it: framesDecoded rises and
// its frameWidth/frameHeight are the clip's, and it gets our sender reports. With 5% of the bot's packets dropped
// on the way out (nftables in the namespace), Chromium's NACKs are answered over
// RTX and the page keeps decoding.
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeResources, sineWave, writeWav } from '../dist/index.js';
import { answerCall, WsTransport } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, onceState, withTimeout, SessionState } from './support/sip.mjs';
import { chromiumSkipReason, startPageServer, launchChromium, evaluate } from './support/chromium.mjs';
import { makeClip, nft } from './support/video.mjs';

const WINDOW_MS = 3000;
const toolMissing =
  spawnSync('ffmpeg', ['-version']).status !== 0
    ? 'ffmpeg not installed (apt-get install ffmpeg)'
    : spawnSync('nft', ['--version']).status !== 0
      ? 'nft not installed (apt-get install nftables)'
      : false;
// A missing tool fails, never skips: the reason becomes the failure.
const missing = !kamailioAvailable()
  ? 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)'
  : toolMissing || (await chromiumSkipReason());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function botOutbound(call) {
  const report = await call.peerConnection.getStats();
  return [...report.values()].find((s) => s.type === 'outbound-rtp' && s.kind === 'video');
}

describe('video: a sipwire bot sends a clip to Chromium through Kamailio', { timeout: 180_000 }, () => {
  let kam;
  let server;
  let dir;
  let bot;
  let web;
  const clips = {};
  const pageLog = [];

  /** The page's inbound video stats, polled (bounded) until `pred` holds. */
  async function untilPage(pred, ms, what) {
    let v = null;
    for (let i = 0; i < ms / 100; i++) {
      v = (await web.ev(() => window.sw.stats(), undefined, 5000, 'page stats')).videoInbound;
      if (v && pred(v)) return v;
      await sleep(100);
    }
    throw new Error(`timed out after ${ms} ms: ${what}; last ${JSON.stringify(v)}`);
  }

  before(async () => {
    assert.equal(missing, false, `cannot run: ${missing}`);
    dir = mkdtempSync(join(tmpdir(), 'sipwire-video-send-'));
    clips.vp8 = makeClip(dir, 'vp8');
    clips.h264 = makeClip(dir, 'h264');
    kam = await startKamailio();
    server = await startPageServer();
    bot = new Party('bot', { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } });
    await bot.start(true);
    const toneWav = join(dir, 'mic.wav');
    writeWav(toneWav, sineWave(700, 48000, 5000, 8000), 48000);
    web = await launchChromium({ toneWav, log: (l) => pageLog.push(l) });
    web.ev = (fn, arg, ms, what) => evaluate(web.page, fn, arg, ms, what);
    console.log(`chromium ${web.version} pid ${web.pid}`);
    await web.page.goto(server.url, { timeout: 10000 });
    await web.page.waitForFunction(() => window.sw, null, { timeout: 10000 });
    await web.ev((a) => window.sw.start(a.ws, 'web'), { ws: kam.wsUrl }, 15000, 'register');
  });

  after(async () => {
    if (process.env.SIPWIRE_INTEROP_VERBOSE) console.log(pageLog.join('\n'));
    await web?.close();
    await bot?.stop().catch(() => {});
    await kam?.stop();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [codec, lossPct] of [
    ['vp8', 0],
    ['h264', 0],
    ['vp8', 5],
  ]) {
    const title = lossPct
      ? `${codec} with ${lossPct}% loss towards the browser: its NACKs are answered over RTX, decoding goes on`
      : `${codec}: the browser decodes the bot's clip (framesDecoded rising, the clip's size)`;
    test(title, async () => {
      const base = nativeResources();
      const calling = web.ev(() => window.sw.call('bot', { video: true }), undefined, 30000, 'browser call with video');
      const inv = await bot.nextInvite();
      assert.match(inv.request.body, new RegExp(`^a=rtpmap:\\d+ ${codec === 'vp8' ? 'VP8' : 'H264'}/90000`, 'mi'), `the browser offers ${codec}`);
      const call = await answerCall(inv, { video: { codecs: [codec], direction: 'sendrecv' } });
      let played;
      try {
        await calling;
        await onceState(inv, SessionState.Established);
        const answer = call.peerConnection.localDescription.sdp;
        const video = answer.slice(answer.indexOf('m=video'));
        assert.match(video, /^m=video [1-9]/m, `video accepted:\n${answer}`);
        assert.match(video, /^a=sendrecv/m, 'video both ways');
        assert.match(video, /^a=ssrc:\d+ msid:/m, 'our video track is announced');
        if (lossPct) {
          const port = Number(/^m=audio (\d+) /m.exec(answer)[1]);
          nft(['add', 'table', 'inet', 'sipwire_video_send_loss']);
          nft(['add', 'chain', 'inet', 'sipwire_video_send_loss', 'out', '{ type filter hook output priority 0; }']);
          nft(['add', 'rule', 'inet', 'sipwire_video_send_loss', 'out', 'udp', 'sport', String(port), 'numgen', 'random', 'mod', '100', '<', String(lossPct), 'counter', 'drop']);
        }
        played = call.playVideo(clips[codec], { loop: true });
        const first = await untilPage((v) => v.framesDecoded >= 10, 10000, 'the page decodes our video');
        await sleep(WINDOW_MS);
        const last = await untilPage((v) => v.framesDecoded > first.framesDecoded, 5000, 'framesDecoded rising');
        const ours = await botOutbound(call);
        const rate = ((last.framesDecoded - first.framesDecoded) * 1000) / (last.timestamp - first.timestamp);
        console.log(
          `${codec}${lossPct ? ` ${lossPct}% loss` : ''}: page decoded ${first.framesDecoded} -> ${last.framesDecoded} frames (${rate.toFixed(1)} fps) ` +
            `${last.frameWidth}x${last.frameHeight}, lost ${last.packetsLost}, NACKs ${last.nackCount}, PLIs ${last.pliCount}, dropped ${last.framesDropped}; ` +
            `bot sent ${JSON.stringify({ framesSent: ours.framesSent, packetsSent: ours.packetsSent, bytesSent: ours.bytesSent, nackCount: ours.nackCount, pliCount: ours.pliCount, firCount: ours.firCount, retransmittedPacketsSent: ours.retransmittedPacketsSent })}`,
        );
        if (lossPct) {
          const dropped = Number(/packets (\d+)/.exec(nft(['list', 'table', 'inet', 'sipwire_video_send_loss']))?.[1] ?? 0);
          nft(['delete', 'table', 'inet', 'sipwire_video_send_loss']);
          console.log(`loss: nftables dropped ${dropped} packets from the bot`);
          assert.ok(dropped > 0, 'packets were dropped');
          assert.ok(ours.nackCount > 0, 'the browser sent NACKs for our stream');
          assert.ok(ours.retransmittedPacketsSent > 0, 'the bot retransmitted');
        }
        assert.deepEqual([last.frameWidth, last.frameHeight], [320, 240], "the page sees the clip's size");
        // Our RTCP sender reports for the video reached Chromium (about one a second).
        const ro = (await web.ev(() => window.sw.stats(), undefined, 5000, 'page stats')).videoRemoteOutbound;
        assert.ok(ro?.reportsSent >= 2 && ro.packetsSent > 0, `Chromium's remote-outbound-rtp for our video: ${JSON.stringify(ro)}`);
        assert.deepEqual([ours.frameWidth, ours.frameHeight], [320, 240], 'our outbound stats have it too');
        // A 30 fps clip: the page decodes nearly all of it, with loss too (repaired).
        assert.ok(rate >= 24, `the page decoded ${rate.toFixed(1)} fps`);
        assert.ok(ours.framesSent >= last.framesDecoded, 'our framesSent covers what the page decoded');
        call.stopVideo();
        assert.deepEqual(await withTimeout(played, 5000, 'playVideo settles on stopVideo'), { stopped: true });
        assert.equal(await web.ev(() => window.sw.sessionState()), 'Established', 'SIP.js kept the call');
      } finally {
        try {
          nft(['delete', 'table', 'inet', 'sipwire_video_send_loss']);
        } catch {}
        await web.ev(() => window.sw.hangup(), undefined, 15000, 'browser BYE').catch(() => call.hangup());
        await withTimeout(call.ended, 10000, 'bot saw the BYE');
        await played?.catch(() => {});
      }
      for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await sleep(25);
      assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
    });
  }
});
