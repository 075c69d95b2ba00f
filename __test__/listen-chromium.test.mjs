// In-band DTMF from its natural source: headless Chromium running SIP.js plays
// each key as two WebAudio oscillators into the call (no RFC 4733), through a
// real Kamailio, and the sipwire bot reports the digits (method 'inband').
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { answerCall, WsTransport } from '../dist/sip.js';
import { startKamailio } from './support/kamailio.mjs';
import { Party, onceState, withTimeout, SessionState } from './support/sip.mjs';
import { chromiumSkipReason, startPageServer, launchChromium, evaluate } from './support/chromium.mjs';

describe('in-band DTMF from Chromium oscillators', { timeout: 180_000 }, () => {
  let kam;
  let server;
  let bot;
  let web;
  const log = [];
  before(async () => {
    const why = await chromiumSkipReason();
    if (why) throw new Error(why); // a missing browser fails the suite
    kam = await startKamailio();
    server = await startPageServer();
    bot = new Party('bot', { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } });
    await bot.start(true);
    web = await launchChromium({ fakeMic: false, log: (l) => log.push(l) });
    await web.page.goto(server.url, { timeout: 10000 });
    await web.page.waitForFunction(() => window.sw, null, { timeout: 10000 });
    await evaluate(web.page, (a) => window.sw.start(a.ws, 'web', { source: 'oscillator', oscillatorHz: 0 }), { ws: kam.wsUrl }, 15000, 'register');
  });
  after(async () => {
    if (process.env.SIPWIRE_INTEROP_VERBOSE) console.log(log.join('\n'));
    await web?.close();
    await bot?.stop().catch(() => {});
    await kam?.stop();
    await server?.close();
  });

  test('the bot collects the keys the page plays as tones, once each', async () => {
    const calling = evaluate(web.page, () => window.sw.call('bot', {}), undefined, 30000, 'browser call');
    const inv = await bot.nextInvite();
    const call = await answerCall(inv);
    await calling;
    await onceState(inv, SessionState.Established);
    const keys = '147*0#9D';
    const got = [];
    const all = withTimeout(
      new Promise((resolve) =>
        call.addEventListener('dtmf', (e) => {
          got.push(`${e.digit}:${e.method}`);
          if (got.length === keys.length) resolve();
        }),
      ),
      20000,
      `digits (got ${got})`,
    );
    // Let media settle (the page's first packets) before the tones.
    await call.waitForSilence(200, { timeoutMs: 10000 });
    await evaluate(web.page, (k) => window.sw.playDtmf(k, 120, 120), keys, 20000, 'page DTMF');
    await all;
    assert.deepEqual(got, [...keys].map((k) => `${k}:inband`));
    await call.hangup();
    await call.ended;
  });
});
