// Issue #15.1: a browser that offers video (SIP.js in headless Chromium with its
// fake camera and microphone) calls a sipwire bot through Kamailio. The bot
// answers audio and rejects the video section exactly once (port 0, its mid);
// Chromium accepts that answer and audio flows both ways. Before the fix the
// rejected section appeared twice in the 200 OK and Chromium refused it
// ("Duplicate a=mid value") and SIP.js hung up at once.
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sineWave, writeWav, nativeResources } from '../dist/index.js';
import { answerCall, WsTransport } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, heardTone, near, onceState, withTimeout, SessionState } from './support/sip.mjs';
import { chromiumSkipReason, startPageServer, launchChromium, evaluate } from './support/chromium.mjs';

const MIC_HZ = 700;
const BOT_HZ = 1000;
// A missing tool fails, never skips: the reason becomes the failure.
const missing = !kamailioAvailable() ? 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)' : await chromiumSkipReason();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mLines = (sdp) => sdp.split(/\r?\n/).filter((l) => l.startsWith('m='));
const mids = (sdp) => sdp.split(/\r?\n/).filter((l) => l.startsWith('a=mid:')).map((l) => l.slice(6));

describe('interop: Chromium offers audio+video (fake camera) to a sipwire bot through Kamailio', { timeout: 180_000 }, () => {
  let kam;
  let server;
  let dir;
  let bot;
  let web;
  const pageLog = [];

  before(async () => {
    assert.equal(missing, false, `cannot run: ${missing}`);
    dir = mkdtempSync(join(tmpdir(), 'sipwire-video-offer-'));
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

  test('browser with camera calls bot: video rejected once (port 0, its mid), audio both ways', async () => {
    const base = nativeResources();
    const calling = web.ev(() => window.sw.call('bot', { video: true }), undefined, 30000, 'browser call with video');
    const inv = await bot.nextInvite();
    const offer = inv.request.body;
    const offered = mLines(offer);
    console.log(`browser offer m-lines: ${offered.join(' | ')}`);
    assert.ok(offered.some((l) => l.startsWith('m=video ') && !l.startsWith('m=video 0 ')), 'the browser really offers video');
    const acked = new Promise((resolve) => (inv.delegate = { ...inv.delegate, onAck: (ack) => (resolve(), ack.accept?.()) }));
    const call = await answerCall(inv);
    try {
      await calling;
      await onceState(inv, SessionState.Established);
      await withTimeout(acked, 10000, 'ACK at the bot');

      // What the bot sent in its 200 OK, and what the browser applied.
      const answer = call.peerConnection.localDescription.sdp;
      const sdp = await web.ev(() => window.sw.sdp(), undefined, 5000, 'sdp');
      for (const [who, text] of [['bot localDescription', answer], ['browser remote description', sdp.remote]]) {
        const m = mLines(text);
        assert.equal(m.length, offered.length, `${who}: one m-line per offered section\n${text}`);
        assert.deepEqual(mids(text), mids(offer), `${who}: each offered mid once, in order`);
        m.forEach((line, i) => {
          const kind = offered[i].split(' ')[0];
          assert.ok(line.startsWith(kind + ' '), `${who}: section ${i} is ${kind}`);
          if (kind === 'm=video') assert.match(line, /^m=video 0 /, `${who}: video rejected with port 0`);
          else assert.doesNotMatch(line, /^m=audio 0 /, `${who}: audio accepted`);
        });
      }

      // Audio both ways.
      call.play({ samples: sineWave(BOT_HZ, 16000, 60000), sampleRate: 16000 });
      const [botHeard, page] = await Promise.all([
        withTimeout(heardTone(call, 1000), 8000, 'bot heard audio'),
        web.ev((m) => window.sw.tone(m), 1500, 12000, 'page tone'),
      ]);
      console.log(`video offer: bot heard ${botHeard?.toFixed(1)} Hz, page heard ${page.freq?.toFixed(1)} Hz`);
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
});
