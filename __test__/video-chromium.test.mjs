// Issue #13: video without transcoding. Headless Chromium (SIP.js, fake camera and
// microphone) calls a sipwire bot through Kamailio with audio and video. The bot,
// with video enabled, answers the video section (receive-only), records it while
// audio flows both ways, and `ffprobe` reads the file: codec, the browser's
// resolution, and at least 90% of the frames the browser sent during the window.
// With 5% of the packets to the bot dropped (nftables in the namespace), NACKs
// are sent, RTX repairs, and the file still decodes cleanly.
// A bot without video still rejects the section (interop-chromium-video-offer).
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sineWave, writeWav, nativeResources } from '../dist/index.js';
import { answerCall, WsTransport } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, heardTone, near, onceState, withTimeout, SessionState } from './support/sip.mjs';
import { chromiumSkipReason, startPageServer, launchChromium, evaluate } from './support/chromium.mjs';

const MIC_HZ = 700;
const BOT_HZ = 1000;
const WINDOW_MS = 4000;
const ffprobeMissing =
  spawnSync('ffprobe', ['-version']).status !== 0
    ? 'ffprobe not installed (apt-get install ffmpeg)'
    : spawnSync('nft', ['--version']).status !== 0
      ? 'nft not installed (apt-get install nftables)'
      : false;
// A missing tool fails, never skips: the reason becomes the failure.
const missing = !kamailioAvailable()
  ? 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)'
  : ffprobeMissing || (await chromiumSkipReason());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The bot's inbound video stats entry. */
async function botVideo(call) {
  const report = await call.peerConnection.getStats();
  return [...report.values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
}

/** Poll the bot's stats (bounded) until `pred` holds. */
async function untilBot(call, pred, ms, what) {
  for (let i = 0; i < ms / 50; i++) {
    const v = await botVideo(call);
    if (v && pred(v)) return v;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms: ${what}; last ${JSON.stringify(await botVideo(call))}`);
}

/** Run nft (nftables) in this network namespace; returns stdout. */
function nft(args) {
  const r = spawnSync('nft', args, { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `nft ${args.join(' ')} failed: ${r.stderr || r.error?.message} (apt-get install nftables)`);
  return r.stdout;
}

function probe(path) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', path], {
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(r.status, 0, `ffprobe failed: ${r.stderr}`);
  const s = JSON.parse(r.stdout).streams?.[0];
  assert.ok(s, `ffprobe found no video stream in ${path}: ${r.stdout}`);
  return { codec: s.codec_name, width: s.width, height: s.height, frames: Number(s.nb_read_frames), errors: r.stderr.trim() };
}

describe('video: Chromium with a camera calls a recording bot through Kamailio', { timeout: 180_000 }, () => {
  let kam;
  let server;
  let dir;
  let bot;
  let web;
  const pageLog = [];

  before(async () => {
    assert.equal(missing, false, `cannot run: ${missing}`);
    dir = mkdtempSync(join(tmpdir(), 'sipwire-video-'));
    const toneWav = join(dir, 'mic-700hz.wav');
    writeWav(toneWav, sineWave(MIC_HZ, 48000, 5000, 8000), 48000);
    kam = await startKamailio();
    server = await startPageServer();
    bot = new Party('bot', { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } });
    await bot.start(true);
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

  for (const [codec, file, ffname, lossPct] of [
    ['vp8', 'caller.ivf', 'vp8', 0],
    ['h264', 'caller.h264', 'h264', 0],
    // Random loss on the way to the bot (nftables in the test's namespace): NACK and RTX repair it.
    ['vp8', 'lossy.ivf', 'vp8', 5],
  ]) {
    const title = lossPct
      ? `${codec} with ${lossPct}% packet loss: NACKs are sent, RTX repairs, the recording stays decodable`
      : `${codec}: the bot records the browser's camera; ffprobe sees its size and >= 90% of its frames; audio both ways`;
    test(title, async () => {
      const base = nativeResources();
      const calling = web.ev(() => window.sw.call('bot', { video: true }), undefined, 30000, 'browser call with video');
      const inv = await bot.nextInvite();
      const offer = inv.request.body;
      assert.match(offer, /^m=video [1-9]/m, 'the browser offers video');
      assert.match(offer, new RegExp(`^a=rtpmap:\\d+ ${codec === 'vp8' ? 'VP8' : 'H264'}/90000`, 'mi'), `the browser offers ${codec}`);
      const call = await answerCall(inv, { video: { codecs: [codec] } });
      const path = join(dir, file);
      try {
        await calling;
        await onceState(inv, SessionState.Established);
        const answer = call.peerConnection.localDescription.sdp;
        assert.match(answer, /^m=video [1-9]/m, `video accepted:\n${answer}`);
        assert.match(answer, /^a=recvonly/m, 'receive-only video');

        if (lossPct) {
          const port = Number(/^m=audio (\d+) /m.exec(answer)[1]);
          nft(['add', 'table', 'inet', 'sipwire_video_loss']);
          nft(['add', 'chain', 'inet', 'sipwire_video_loss', 'inp', '{ type filter hook input priority 0; }']);
          nft(['add', 'rule', 'inet', 'sipwire_video_loss', 'inp', 'udp', 'dport', String(port), 'numgen', 'random', 'mod', '100', '<', String(lossPct), 'counter', 'drop']);
        }
        await call.recordVideo(path);
        // The recording starts at the key frame the bot asked for (PLI).
        const first = await untilBot(call, (v) => v.keyFramesReceived >= 1 && v.pliCount >= 1, 10000, 'a key frame after the PLI');
        const s0 = (await web.ev(() => window.sw.stats(), undefined, 5000, 'page stats')).videoOutbound;
        assert.ok(s0, 'the page sends video');

        // Audio both ways during the window.
        call.play({ samples: sineWave(BOT_HZ, 16000, 60000), sampleRate: 16000 });
        const [botHeard, page] = await Promise.all([
          withTimeout(heardTone(call, 1000), 8000, 'bot heard audio'),
          web.ev((m) => window.sw.tone(m), 1500, 12000, 'page tone'),
          sleep(WINDOW_MS),
        ]);
        const s1 = (await web.ev(() => window.sw.stats(), undefined, 5000, 'page stats')).videoOutbound;
        await call.stopVideoRecording();
        const last = await botVideo(call);
        const sent = s1.framesSent - s0.framesSent;
        const got = probe(path);
        console.log(
          `${codec}: page sent ${sent} frames in the window (${s1.frameWidth}x${s1.frameHeight}, ${s1.framesSent} total); ` +
            `file ${statSync(path).size} bytes: ${got.codec} ${got.width}x${got.height} ${got.frames} frames; bot stats ${JSON.stringify({
              framesReceived: last.framesReceived, keyFramesReceived: last.keyFramesReceived, frameWidth: last.frameWidth, frameHeight: last.frameHeight,
              packetsReceived: last.packetsReceived, bytesReceived: last.bytesReceived, packetsLost: last.packetsLost, framesDropped: last.framesDropped,
              nackCount: last.nackCount, pliCount: last.pliCount, firCount: last.firCount,
            })}; first key frame after ${first.framesReceived} frames; audio: bot ${botHeard?.toFixed(1)} Hz, page ${page.freq?.toFixed(1)} Hz`,
        );
        if (lossPct) {
          const dropped = Number(/packets (\d+)/.exec(nft(['list', 'table', 'inet', 'sipwire_video_loss']))?.[1] ?? 0);
          nft(['delete', 'table', 'inet', 'sipwire_video_loss']);
          console.log(`loss: nftables dropped ${dropped} packets; bot sent ${last.nackCount} NACKs, got ${last.retransmittedPacketsReceived} retransmissions, gave up ${last.framesDropped} frames`);
          assert.ok(dropped > 0, 'packets were dropped');
          assert.ok(last.nackCount > 0, 'the bot sent NACKs');
          assert.ok(last.retransmittedPacketsReceived > 0, 'NACKed packets were retransmitted');
          // NACKs go once: when a retransmission is lost too (5 % of them here), the frame
          // is given up and the bot skips to a key frame it asks for. That is recovery by
          // PLI, as the file's frame count and decodability below then show.
          assert.ok(
            last.framesDropped <= 2 || (last.pliCount >= 2 && last.keyFramesReceived >= 2),
            `${last.framesDropped} frames given up with ${last.pliCount} PLIs and ${last.keyFramesReceived} key frames`,
          );
        }
        assert.equal(got.codec, ffname);
        assert.deepEqual([got.width, got.height], [s1.frameWidth, s1.frameHeight], "the file has the browser's resolution");
        assert.deepEqual([last.frameWidth, last.frameHeight], [s1.frameWidth, s1.frameHeight], 'frameWidth/frameHeight from the bitstream');
        assert.ok(sent > 20, `the browser sent ${sent} frames in ${WINDOW_MS} ms`);
        assert.ok(got.frames >= 0.9 * sent, `file has ${got.frames} frames, the browser sent ${sent} in the window`);
        assert.equal(got.errors, '', 'ffprobe decoded the file without errors');
        assert.ok(last.packetsReceived > 0 && last.bytesReceived > 0);
        assert.ok(near(botHeard, MIC_HZ), `bot heard ${botHeard} Hz, wanted ${MIC_HZ}`);
        assert.ok(near(page.freq, BOT_HZ), `page heard ${page.freq} Hz, wanted ${BOT_HZ}`);
        assert.equal(await web.ev(() => window.sw.sessionState()), 'Established', 'SIP.js kept the call');
      } finally {
        await web.ev(() => window.sw.hangup(), undefined, 15000, 'browser BYE').catch(() => call.hangup());
        await withTimeout(call.ended, 10000, 'bot saw the BYE');
      }
      for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await sleep(25);
      assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
    });
  }
});
