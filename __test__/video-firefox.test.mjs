// Issue #13, Firefox for VP8 both ways: SIP.js in headless Firefox ESR (its fake camera)
// calls a sipwire bot through Kamailio with audio and video. The bot answers VP8
// sendrecv, records Firefox's camera (ffprobe reads the IVF: VP8, Firefox's size, the
// frames) and sends a clip made by ffmpeg, which Firefox decodes at the clip's size.
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeResources } from '../dist/index.js';
import { answerCall, WsTransport } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, onceState, withTimeout, SessionState } from './support/sip.mjs';
import { startPageServer, evaluate } from './support/chromium.mjs';
import { firefoxMissing, outsideNetnsReason, startPulseAudio, launchFirefox, addLoopbackDefaultRoute } from './support/firefox.mjs';
import { makeClip, probe } from './support/video.mjs';

const missing = !kamailioAvailable() ? 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)' : await firefoxMissing();
const skip = outsideNetnsReason();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('video: Firefox ESR and a sipwire bot exchange VP8 through Kamailio', { skip, timeout: 300_000 }, () => {
  let kam;
  let server;
  let pulse;
  let bot;
  let fx;
  let dropRoute;
  let dir;
  let clip;
  const pageLog = [];
  const ev = (fn, arg, ms, what) => evaluate(fx.page, fn, arg, ms, what);

  before(async () => {
    // A missing tool fails the suite: it must not pass by skipping.
    assert.equal(missing, false, missing || '');
    dir = mkdtempSync(join(tmpdir(), 'sipwire-video-fx-'));
    clip = makeClip(dir, 'vp8');
    dropRoute = addLoopbackDefaultRoute();
    kam = await startKamailio();
    server = await startPageServer();
    pulse = await startPulseAudio({ log: (l) => pageLog.push(l) });
    bot = new Party('bot', { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } });
    await bot.start(true);
    fx = await launchFirefox({ pulseServer: pulse.server, log: (l) => pageLog.push(`[fx] ${l}`) });
    console.log(`firefox ${fx.version} pid ${fx.pid}`);
    await fx.page.goto(server.url, { timeout: 30000 });
    await fx.page.waitForFunction(() => window.sw, { timeout: 30000 });
    await ev((a) => window.sw.start(a.ws, 'fx', { source: 'mic' }), { ws: kam.wsUrl }, 20000, 'register');
  });

  after(async () => {
    if (process.env.SIPWIRE_INTEROP_VERBOSE) console.log(pageLog.join('\n'));
    await fx?.close();
    await bot?.stop().catch(() => {});
    await kam?.stop();
    await server?.close();
    await pulse?.stop();
    dropRoute?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('VP8 both ways: the bot records the camera, Firefox decodes the bot\'s clip', async () => {
    const base = nativeResources();
    const calling = ev(() => window.sw.call('bot', { video: true }), undefined, 30000, 'browser call with video');
    const inv = await bot.nextInvite();
    assert.match(inv.request.body, /^a=rtpmap:\d+ VP8\/90000/im, 'Firefox offers VP8');
    const call = await answerCall(inv, { video: { codecs: ['vp8'], direction: 'sendrecv' } });
    const rec = join(dir, 'firefox.ivf');
    let played;
    try {
      await calling;
      await onceState(inv, SessionState.Established);
      assert.match(call.peerConnection.localDescription.sdp, /^m=video [1-9][^]*^a=sendrecv/m, 'video both ways');
      await call.recordVideo(rec);
      played = call.playVideo(clip, { loop: true });
      let page = null;
      for (let i = 0; i < 150; i++) {
        page = (await ev(() => window.sw.stats(), undefined, 10000, 'page stats')).videoInbound;
        if (page?.framesDecoded >= 60) break;
        await sleep(100);
      }
      const ours = [...(await call.peerConnection.getStats()).values()];
      const out = ours.find((s) => s.type === 'outbound-rtp' && s.kind === 'video');
      const inb = ours.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
      await call.stopVideoRecording();
      const got = probe(rec);
      console.log(
        `firefox: decoded ${page?.framesDecoded} of our ${out?.framesSent} frames (${page?.frameWidth}x${page?.frameHeight}); ` +
          `bot received ${inb?.framesReceived} frames ${inb?.frameWidth}x${inb?.frameHeight}, file ${got.codec} ${got.width}x${got.height} ${got.frames} frames`,
      );
      assert.ok(page?.framesDecoded >= 60, `Firefox decoded ${page?.framesDecoded} frames`);
      assert.deepEqual([page.frameWidth, page.frameHeight], [320, 240], "Firefox sees the clip's size");
      assert.equal(got.codec, 'vp8');
      assert.ok(inb.frameWidth > 0 && inb.frameHeight > 0, 'Firefox sends video');
      assert.deepEqual([got.width, got.height], [inb.frameWidth, inb.frameHeight], "the file has Firefox's size");
      // From the key frame the recording asked for (PLI) on: at most what arrived.
      assert.ok(got.frames > 10 && got.frames <= inb.framesReceived, `file has ${got.frames} frames of ${inb.framesReceived}`);
      assert.equal(got.errors, '', 'ffprobe decoded the recording cleanly');
      call.stopVideo();
      assert.deepEqual(await withTimeout(played, 5000, 'playVideo settles'), { stopped: true });
    } finally {
      await ev(() => window.sw.hangup(), undefined, 15000, 'browser BYE').catch(() => call.hangup());
      await withTimeout(call.ended, 10000, 'bot saw the BYE');
      await played?.catch(() => {});
    }
    for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await sleep(25);
    assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
  });
});
