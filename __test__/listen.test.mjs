// Listening helpers with real parts: two SIP.js bots through a real Kamailio,
// one playing audio (in-band DTMF tones, a tone, espeak-ng speech, greetings
// and a beep), the other detecting it in Rust: dtmf events with
// method 'inband', waitForTone, waitForSpeech/waitForSilence, speech events,
// detectAnsweringMachine and the beep event.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sineWave, writeWav } from '../dist/index.js';
import { startKamailio } from './support/kamailio.mjs';
import { WsTransport } from '../dist/sip.js';
import { kamailioPair, establish, withTimeout, Party } from './support/sip.mjs';

const DTMF = { 1: [697, 1209], 2: [697, 1336], 3: [697, 1477], A: [697, 1633], 4: [770, 1209], 5: [770, 1336], 6: [770, 1477], B: [770, 1633], 7: [852, 1209], 8: [852, 1336], 9: [852, 1477], C: [852, 1633], '*': [941, 1209], 0: [941, 1336], '#': [941, 1477], D: [941, 1633] };

/** DTMF keys as audio at 8 kHz: `toneMs` of each dual tone, `gapMs` of silence between. */
function dtmfAudio(keys, toneMs = 100, gapMs = 100) {
  const rate = 8000;
  const out = [];
  for (let i = 0; i < rate / 5; i++) out.push(0);
  for (const k of keys) {
    const [lo, hi] = DTMF[k];
    for (let n = 0; n < (rate * toneMs) / 1000; n++) {
      const t = n / rate;
      out.push(Math.round(6000 * Math.sin(2 * Math.PI * lo * t) + 6000 * Math.sin(2 * Math.PI * hi * t)));
    }
    for (let n = 0; n < (rate * gapMs) / 1000; n++) out.push(0);
  }
  return Int16Array.from(out);
}

/** espeak-ng speaks `text` into a WAV file (fails the test if espeak-ng is missing). */
function speak(dir, name, text) {
  const path = join(dir, `${name}.wav`);
  execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', path, text]);
  return path;
}

const digitsOf = (call, n, ms) =>
  withTimeout(
    new Promise((resolve) => {
      const got = [];
      call.addEventListener('dtmf', (e) => {
        got.push(`${e.digit}:${e.method}`);
        if (got.length === n) resolve(got);
      });
    }),
    ms,
    `${n} digits`,
  );

describe('listening through Kamailio', { timeout: 180_000 }, () => {
  let kam;
  let alice;
  let bob;
  let carol; // offers PCMU only
  let stopUas;
  let dir;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipwire-listen-'));
    kam = await startKamailio();
    ({ alice, bob, stop: stopUas } = await kamailioPair(kam.wsUrl));
    carol = new Party('carol', { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } }, { codecs: ['pcmu'] });
    await carol.start(true);
  });
  after(async () => {
    await stopUas?.();
    await carol?.stop();
    await kam?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const codec of ['opus', 'pcmu']) {
    test(`in-band DTMF played as a WAV prompt is collected once per key (${codec})`, async () => {
      const wav = join(dir, `dtmf-${codec}.wav`);
      writeWav(wav, dtmfAudio('1590#*AD'), 8000);
      const [caller, callee] = await establish(codec === 'pcmu' ? carol : alice, bob);
      const inbound = [...(await callee.stats()).values()].find((x) => x.type === 'codec' || x.mimeType);
      if (inbound?.mimeType) assert.match(inbound.mimeType, new RegExp(codec, 'i'));
      const heard = digitsOf(callee, 8, 15000);
      await caller.play(wav); // audio only: no RFC 4733 event is sent
      const got = await heard;
      assert.deepEqual(got, [...'1590#*AD'].map((d) => `${d}:inband`));
      // Nothing more arrives in the trailing silence.
      let extra = 0;
      callee.addEventListener('dtmf', () => extra++);
      await caller.play({ samples: new Int16Array(8000 * 0.5), sampleRate: 8000 });
      assert.equal(extra, 0);
      await caller.hangup();
      await callee.ended;
    });
  }

  test('waitForTone resolves on its frequency, rejects on a wrong one and on timeout', async () => {
    const [caller, callee] = await establish(alice, bob);
    caller.play({ samples: sineWave(800, 16000, 20000), sampleRate: 16000 }, { loop: true });
    const t0 = Date.now();
    await assert.rejects(callee.waitForTone(1000, { timeoutMs: 1500 }), (e) => e.code === 'ERR_TIMEOUT');
    assert.ok(Date.now() - t0 >= 1400, 'waited for the timeout');
    const { hz } = await callee.waitForTone(800, { timeoutMs: 5000, minDurationMs: 300 });
    assert.ok(Math.abs(hz - 800) < 12, `measured ${hz} Hz`);
    assert.throws(() => callee.peerConnection.waitForTone(5000), (e) => e.code === 'ERR_INVALID_ARG');
    caller.stopPlayback();
    const pending = callee.waitForTone(1000, { timeoutMs: 60000 });
    await caller.hangup();
    await assert.rejects(pending, (e) => e.code === 'ERR_CLOSED');
  });

  test('waitForSpeech and waitForSilence follow espeak-ng speech; speech events on the call', async () => {
    const wav = speak(dir, 'speech', 'Thank you for calling. Please hold while we connect you.');
    const [caller, callee] = await establish(alice, bob);
    // Silence only: no speech.
    await assert.rejects(callee.waitForSpeech({ timeoutMs: 1000 }), (e) => e.code === 'ERR_TIMEOUT');
    const events = [];
    await callee.listen({ speech: true });
    callee.addEventListener('speechstart', () => events.push('start'));
    callee.addEventListener('speechend', (e) => events.push(`end ${e.durationMs}`));
    const speech = callee.waitForSpeech({ timeoutMs: 10000 });
    const played = caller.play(wav);
    const t0 = Date.now();
    await speech;
    const startedAfter = Date.now() - t0;
    await callee.waitForSilence(600, { timeoutMs: 15000 });
    const silentAfter = Date.now() - t0;
    await played;
    assert.ok(startedAfter < 1500, `speech detected after ${startedAfter} ms`);
    assert.ok(silentAfter > 2500, `silence only after the speech (${silentAfter} ms)`);
    assert.equal(events[0], 'start');
    assert.match(events.at(-1), /^end \d+$/);
    const spoken = events.filter((e) => e.startsWith('end')).reduce((a, e) => a + Number(e.slice(4)), 0);
    assert.ok(spoken > 2000, `speech lasted ${spoken} ms in total: ${events}`);
    await caller.hangup();
    await callee.ended;
  });

  test('detectAnsweringMachine: human for a short hello, machine for a long greeting; beep event', async () => {
    const hello = speak(dir, 'hello', 'Hello?');
    const greeting = speak(dir, 'greeting', "Hi, you've reached Sam. I can't take your call right now. Please leave a message after the tone.");
    {
      const [caller, callee] = await establish(alice, bob);
      const verdict = caller.detectAnsweringMachine({ timeoutMs: 5000 });
      const t0 = Date.now();
      await callee.play(hello);
      assert.equal(await verdict, 'human');
      console.log(`human decided ${Date.now() - t0} ms after the greeting started`);
      await caller.hangup();
      await callee.ended;
    }
    {
      const [caller, callee] = await establish(alice, bob);
      await caller.listen({ beep: true });
      const beep = withTimeout(new Promise((r) => caller.addEventListener('beep', (e) => r(e.hz), { once: true })), 20000, 'beep');
      const verdict = caller.detectAnsweringMachine({ timeoutMs: 8000 });
      const t0 = Date.now();
      const greeted = callee.play(greeting).then(() => callee.play({ samples: sineWave(1000, 16000, 600), sampleRate: 16000 }));
      assert.equal(await verdict, 'machine');
      console.log(`machine decided ${Date.now() - t0} ms after the greeting started`);
      const hz = await beep;
      assert.ok(Math.abs(hz - 1000) < 15, `beep at ${hz} Hz`);
      assert.ok(Date.now() - t0 > 3000, 'the beep came after the greeting');
      await greeted;
      await caller.hangup();
      await callee.ended;
    }
  });
});
