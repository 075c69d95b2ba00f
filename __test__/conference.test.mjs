// A 5-party conference through a real Kamailio: five SIP.js parties call a
// bot that seats every call in one Conference (mixed in Rust). Each party
// sends its own frequency and must hear the other four but not its own; mute
// takes a party out of the others' audio; an announcement reaches everyone;
// hang-ups leave no native resource behind.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sineWave, nativeResources, Conference } from '../dist/index.js';
import { WsTransport } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, establish, withTimeout, onceState, SessionState } from './support/sip.mjs';

const skip = kamailioAvailable() ? false : 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)';
const FREQS = [400, 650, 950, 1300, 1700];
const RATE = 16000;

/** Power of `freq` in `x` (Goertzel), normalised by length. */
function power(x, freq) {
  const w = (2 * Math.PI * freq) / RATE;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const v of x) {
    const s0 = v + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.length * x.length);
}

/** `ms` of what a call hears, at RATE. */
async function listen(call, ms = 800) {
  const out = [];
  for await (const f of call.audio({ sampleRate: RATE, batchMs: 100 })) {
    out.push(...f.samples);
    if (out.length >= (RATE * ms) / 1000) break;
  }
  return Int16Array.from(out);
}

const settled = async () => {
  for (let i = 0; i < 80 && (nativeResources().livePeers > 0 || nativeResources().liveLinks > 0); i++) await new Promise((r) => setTimeout(r, 25));
};

describe('conference through Kamailio', { skip, timeout: 180_000 }, () => {
  let kam;
  let room;
  let parties;
  before(async () => {
    kam = await startKamailio();
    const t = { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } };
    room = new Party('room', t);
    parties = FREQS.map((_, i) => new Party(`p${i + 1}`, t));
    for (const p of [room, ...parties]) await p.start(true);
  });
  after(async () => {
    for (const p of [room, ...(parties ?? [])]) await p?.stop();
    await kam?.stop();
  });

  test('5 parties: each hears the other four, never itself; mute, announcement, leave on hang-up', async () => {
    await settled();
    const base = nativeResources();
    const conf = new Conference({ sampleRate: RATE });
    const calls = [];
    try {
      for (const [i, p] of parties.entries()) {
        const [caller, seat] = await establish(p, room);
        calls.push({ caller, seat, participant: conf.join(seat) });
        caller.play({ samples: sineWave(FREQS[i], RATE, 60000, 3000), sampleRate: RATE });
      }
      assert.equal(conf.participants.length, 5);
      assert.equal(nativeResources().liveLinks, base.liveLinks + 5, 'one graph port per seat');
      await new Promise((r) => setTimeout(r, 300)); // every seat's first frames through the jitter buffers
      const heard = await Promise.all(calls.map((c) => listen(c.caller)));
      for (const [i, x] of heard.entries()) {
        const p = FREQS.map((f) => power(x.subarray(x.length / 4), f));
        const others = p.filter((_, j) => j !== i);
        const weakest = Math.min(...others);
        assert.ok(weakest > 1e5, `p${i + 1} hears all four others (powers ${p.map((v) => v.toExponential(1)).join(' ')})`);
        assert.ok(p[i] < weakest / 100, `p${i + 1} does not hear itself (own ${p[i].toExponential(1)}, weakest other ${weakest.toExponential(1)})`);
      }
      // Everyone is sending a tone: everyone is speaking.
      assert.equal(conf.speaking().length, 5);

      // p1 muted: the others no longer hear 400 Hz.
      calls[0].participant.mute();
      await new Promise((r) => setTimeout(r, 300));
      const x2 = await listen(calls[1].caller, 600);
      assert.ok(power(x2, FREQS[0]) < power(x2, FREQS[2]) / 100, 'muted p1 is not heard');
      calls[0].participant.mute(false);

      // An announcement reaches everyone.
      conf.playToAll(sineWave(2500, 8000, 1500, 6000), 8000);
      const ann = await Promise.all(calls.map((c) => listen(c.caller, 600)));
      for (const [i, x] of ann.entries()) assert.ok(power(x, 2500) > 1e5, `p${i + 1} hears the announcement`);

      // p3 hangs up: it leaves; the others stay.
      await calls[2].caller.hangup();
      await calls[2].seat.ended;
      await withTimeout(
        (async () => {
          while (conf.participants.length !== 4) await new Promise((r) => setTimeout(r, 20));
        })(),
        3000,
        'p3 left',
      );
    } finally {
      for (const { caller } of calls) await caller.hangup().catch(() => undefined);
      await Promise.all(calls.map((c) => c.seat.ended));
      conf.close();
    }
    await settled();
    assert.deepEqual(nativeResources(), base, 'sockets, peers and seats freed');
  });
});

describe('examples/conference through Kamailio', { skip, timeout: 120_000 }, () => {
  test('two callers in the example room hear each other, not themselves', async () => {
    const { startConferenceBot } = await import('../examples/conference/index.mjs');
    const kam = await startKamailio();
    const t = { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } };
    const bot = new Party('room2', t);
    const [x, y] = [new Party('x1', t), new Party('y1', t)];
    try {
      for (const p of [bot, x, y]) await p.start(true);
      const room = startConferenceBot(bot.ua);
      const cx = await x.dial('room2');
      const cy = await y.dial('room2');
      for (const c of [cx, cy]) await onceState(c.session, SessionState.Established);
      cx.play({ samples: sineWave(500, RATE, 30000, 5000), sampleRate: RATE });
      cy.play({ samples: sineWave(1200, RATE, 30000, 5000), sampleRate: RATE });
      await new Promise((r) => setTimeout(r, 400));
      const [hx, hy] = await Promise.all([listen(cx, 600), listen(cy, 600)]);
      assert.ok(power(hx, 1200) > 100 * power(hx, 500), 'x hears y, not itself');
      assert.ok(power(hy, 500) > 100 * power(hy, 1200), 'y hears x, not itself');
      await cx.hangup();
      await cy.hangup();
      room.close();
    } finally {
      for (const p of [bot, x, y]) await p.stop();
      await kam.stop();
    }
  });
});
