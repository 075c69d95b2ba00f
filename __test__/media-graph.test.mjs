// Media between calls through a real Kamailio: a bot (bob) answers alice
// (Opus), dials carol (PCMU only) and bridges the two legs in Rust; tones and
// DTMF cross the bridge, hold is respected, and hang-ups in every order leave
// no native resource behind. Also: a stereo recording of both sides of a call.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sineWave, nativeResources, detectTone } from '../dist/index.js';
import { bridge } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, establish, heardTone, near, withTimeout, onceState, SessionState } from './support/sip.mjs';
import { startB2bua } from '../examples/b2bua/index.mjs';

const skip = kamailioAvailable() ? false : 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)';
const tone = (freq, ms = 30000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });
const settled = async (base) => {
  for (let i = 0; i < 80; i++) {
    const r = nativeResources();
    if (r.livePeers === base.livePeers && r.liveLinks === base.liveLinks && r.openSockets === base.openSockets) return;
    await new Promise((r) => setTimeout(r, 25));
  }
};
const codecOf = (call) => /a=rtpmap:\d+ (\w+)\//.exec(call.peerConnection.remoteDescription.sdp)[1].toLowerCase();

/** Answer the next INVITE `party` gets. */
async function answerNext(party) {
  const { answerCall } = await import('../dist/sip.js');
  return answerCall(await party.nextInvite());
}

/** Digits `rx` receives while `tx` sends `digits`. */
async function relayed(tx, rx, digits) {
  const got = [];
  const done = withTimeout(
    new Promise((resolve) =>
      rx.addEventListener('dtmf', function l(e) {
        got.push(e.digit);
        if (got.length === digits.length) (rx.removeEventListener('dtmf', l), resolve());
      }),
    ),
    10000,
    `digits across the bridge (got ${got.join('')})`,
  );
  await tx.sendDtmf(digits);
  await done;
  return got.join('');
}

describe('media between calls through Kamailio', { skip, timeout: 180_000 }, () => {
  let kam;
  let alice;
  let bob;
  let carol;
  let dir;
  before(async () => {
    kam = await startKamailio();
    const t = { transportConstructor: (await import('../dist/sip.js')).WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } };
    alice = new Party('alice', t, { codecs: ['opus'] });
    bob = new Party('bob', t);
    carol = new Party('carol', t, { codecs: ['pcmu'] });
    for (const p of [alice, bob, carol]) await p.start(true);
    dir = mkdtempSync(join(tmpdir(), 'sipwire-graph-'));
  });
  after(async () => {
    for (const p of [alice, bob, carol]) await p?.stop();
    await kam?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** alice -> bob (Opus), bob -> carol (PCMU), bridged by bob. */
  async function b2bua() {
    const [a, bA] = await establish(alice, bob);
    const [bC, c] = await establish(bob, carol);
    assert.equal(codecOf(bA), 'opus');
    assert.equal(codecOf(bC), 'pcmu');
    const br = await bridge(bA, bC);
    return { a, bA, bC, c, br };
  }

  test('an Opus leg bridged to a PCMU leg: tones both ways, DTMF both ways, hold respected', async () => {
    await settled({ livePeers: 0, liveLinks: 0, openSockets: 0 });
    const base = nativeResources();
    const { a, bA, bC, c, br } = await b2bua();
    try {
      assert.equal(nativeResources().liveLinks, base.liveLinks + 2);
      a.play(tone(1000));
      c.play(tone(440));
      const [fc, fa] = await Promise.all([heardTone(c), heardTone(a)]);
      assert.ok(near(fc, 1000), `carol (PCMU) heard ${fc} Hz from alice (Opus)`);
      assert.ok(near(fa, 440), `alice (Opus) heard ${fa} Hz from carol (PCMU)`);
      assert.equal(await relayed(a, c, '159#'), '159#', 'alice -> carol');
      assert.equal(await relayed(c, a, '*07D'), '*07D', 'carol -> alice');
      // The bot holds carol's leg: carol still hears alice (the bot sends),
      // but what carol's side sends is not passed on: alice hears no tone.
      await bC.hold();
      // What is already in the jitter buffers and the link plays out first
      // (a few hundred ms); then silence, which must last.
      let silentFrames = 0;
      let frames = 0;
      for await (const f of a.audio({ sampleRate: 16000, batchMs: 20 })) {
        frames++;
        silentFrames = detectTone(f.samples, 16000) === null ? silentFrames + 1 : 0;
        if (silentFrames === 25 || frames === 150) break;
      }
      assert.equal(silentFrames, 25, 'held: alice hears 500 ms without a tone within 3 s');
      assert.ok(near(await heardTone(c), 1000), 'held: carol still hears alice');
      await bC.unhold();
      assert.ok(near(await heardTone(a), 440), 'unheld: carol heard again');
      // The bot can leave the bridge: each leg falls back to its own sources.
      br.unbridge();
      await settled(base);
      assert.equal(nativeResources().liveLinks, base.liveLinks, 'both link ends gone after unbridge');
      bA.play(tone(700));
      assert.ok(near(await heardTone(a), 700), 'alice hears the bot after unbridge');
    } finally {
      for (const call of [a, c]) await call.hangup().catch(() => undefined);
      await Promise.all([bA.ended, bC.ended]);
    }
  });

  for (const order of ['caller first', 'callee first', 'bot leg A first', 'bot leg B first']) {
    test(`bridged legs hung up ${order}: no native resource left`, async () => {
      await settled({ livePeers: 0, liveLinks: 0, openSockets: 0 });
      const base = nativeResources();
      const os = () => ({ fds: readdirSync('/proc/self/fd').length, threads: readdirSync('/proc/self/task').length });
      const osBase = os();
      const { a, bA, bC, c, br } = await b2bua();
      a.play(tone(1000));
      assert.ok(near(await heardTone(c), 1000));
      const first = { 'caller first': a, 'callee first': c, 'bot leg A first': bA, 'bot leg B first': bC }[order];
      await first.hangup();
      // The bridge ends with either call; the other leg lives on, unbridged.
      await withTimeout(
        (async () => {
          while (br.active) await new Promise((r) => setTimeout(r, 20));
        })(),
        5000,
        'bridge ended',
      );
      const rest = [a, bA, bC, c].filter((x) => x.session.state !== 'Terminated');
      for (const x of rest) await x.hangup().catch(() => undefined);
      await Promise.all([a.ended, bA.ended, bC.ended, c.ended]);
      await settled(base);
      assert.deepEqual(nativeResources(), base, 'sockets, peers and link ends freed');
      assert.deepEqual(os(), osBase, 'file descriptors and threads as before');
    });
  }

  test('examples/b2bua: a bot answers, dials carol, bridges; hanging up one side ends the other', async () => {
    await settled({ livePeers: 0, liveLinks: 0, openSockets: 0 });
    const base = nativeResources();
    const dave = new Party('dave', { transportConstructor: (await import('../dist/sip.js')).WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } });
    await dave.start(true);
    startB2bua(dave.ua, { target: 'carol' });
    try {
      const a = await alice.dial('dave');
      const c = await answerNext(carol);
      await onceState(a.session, SessionState.Established);
      a.play(tone(1000));
      c.play(tone(440));
      const [fc, fa] = await Promise.all([heardTone(c), heardTone(a)]);
      assert.ok(near(fc, 1000) && near(fa, 440), `carol heard ${fc} Hz, alice ${fa} Hz`);
      assert.equal(await relayed(a, c, '42'), '42');
      await a.hangup();
      await withTimeout(c.ended, 5000, 'carol hung up by the B2BUA');
    } finally {
      await dave.stop();
    }
    await settled(base);
    assert.deepEqual(nativeResources(), base, 'nothing left after the B2BUA calls');
  });

  test('a stereo Ogg/Opus recording: ffmpeg decodes it, far end left, this side right', async () => {
    const [a, b] = await establish(alice, bob);
    const path = join(dir, 'stereo.ogg');
    try {
      a.play(tone(1000));
      b.play(tone(440));
      assert.ok(near(await heardTone(b), 1000));
      await b.record(path, { channels: 'stereo', format: 'opus', sampleRate: 16000 });
      await new Promise((r) => setTimeout(r, 1500));
      const ms = await b.stopRecording();
      const r = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 's16le', '-ac', '2', '-ar', '16000', '-'], { maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`);
      const data = new Int16Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length / 2);
      assert.ok(Math.abs(data.length / 2 / 16 - ms) <= 40, `decoded ${data.length / 32} ms, reported ${ms} ms`);
      const ch = (k) => Int16Array.from({ length: data.length / 2 }, (_, i) => data[2 * i + k]).subarray(8000);
      const [left, right] = [detectTone(ch(0), 16000), detectTone(ch(1), 16000)];
      assert.ok(near(left, 1000), `left (far end) ${left} Hz`);
      assert.ok(near(right, 440), `right (this side) ${right} Hz`);
    } finally {
      await a.hangup();
      await b.ended;
    }
  });

  test('a stereo recording: far end left, this side right, in step; stopRecording returns its duration', async () => {
    const [a, b] = await establish(alice, bob);
    const path = join(dir, 'stereo.wav');
    try {
      a.play(tone(1000));
      b.play(tone(440));
      assert.ok(near(await heardTone(b), 1000));
      const t0 = Date.now();
      await b.record(path, { channels: 'stereo', sampleRate: 16000 });
      await new Promise((r) => setTimeout(r, 1500));
      const ms = await b.stopRecording();
      const wall = Date.now() - t0;
      assert.ok(ms >= 1200 && ms <= wall + 100, `duration ${ms} ms for ${wall} ms of wall time`);
      const wav = readFileSync(path);
      assert.equal(wav.readUInt16LE(22), 2, 'two channels');
      assert.equal(wav.readUInt32LE(24), 16000);
      const data = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
      assert.equal(data.length / 2 / 16, ms, 'the data is exactly the reported duration');
      const ch = (k) => Int16Array.from({ length: data.length / 2 }, (_, i) => data[2 * i + k]).subarray(8000);
      const [left, right] = [detectTone(ch(0), 16000), detectTone(ch(1), 16000)];
      assert.ok(near(left, 1000), `left (far end) ${left} Hz`);
      assert.ok(near(right, 440), `right (this side) ${right} Hz`);
    } finally {
      await a.hangup();
      await b.ended;
    }
  });
});
