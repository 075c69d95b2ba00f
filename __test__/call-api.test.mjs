// The bot Call API through a real Kamailio (SIP over WebSocket on 127.0.0.1)
// with real sipwire media (issue #11): digit collection with terminators and
// timeouts, barge-in measured on the far side's audio, why a call ended in
// every case, queued hold/unhold, dial(), serveCalls() error reporting, and
// blind and attended transfer with a third bot hearing the transferred call.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { sineWave } from '../dist/index.js';
import { dial, serveCalls, CallEndedError, TransferFailedError, Call, answerCall } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { waitState } from './helpers.mjs';
import { kamailioParties, establish, heardTone, near, withTimeout, DOMAIN } from './support/sip.mjs';

const skip = kamailioAvailable() ? false : 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)';
const tone = (freq, ms = 30000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });
const uri = (user) => `sip:${user}@${DOMAIN}`;
const rms = (s) => Math.sqrt(s.reduce((a, x) => a + x * x, 0) / Math.max(1, s.length));

describe('Call API through Kamailio', { skip, timeout: 180_000 }, () => {
  let kam;
  let alice;
  let bob;
  let carol;
  let stopParties;
  before(async () => {
    kam = await startKamailio();
    ({ parties: [alice, bob, carol], stop: stopParties } = await kamailioParties(kam.wsUrl, ['alice', 'bob', 'carol'], { replaces: true }));
  });
  after(async () => {
    await stopParties?.();
    await kam?.stop();
  });

  test('collectDigits: in order, max, terminator, INFO (dtmf-relay and dtmf) and RFC 4733 mixed, each digit once', async () => {
    const [a, b] = await establish(alice, bob);
    try {
      // '1234#' at once: the first collector stops at max 3; the next one,
      // started as the first resolves, gets the rest (no digit lost between them).
      const first = b.collectDigits({ max: 3 });
      const second = first.then(() => b.collectDigits({ terminators: '#*', timeoutMs: 5000 }));
      await a.sendDtmf('1234#');
      assert.deepEqual(await first, { digits: '123', reason: 'max' });
      assert.deepEqual(await second, { digits: '4', reason: 'terminator', terminator: '#' });

      // Mixed methods, in order: INFO dtmf-relay, INFO application/dtmf, RFC 4733.
      const mixed = b.collectDigits({ terminators: '#', timeoutMs: 10000 });
      await a.sendDtmf('56', { method: 'info' });
      await new Promise((resolve, reject) =>
        a.session
          .info({
            requestOptions: { body: { contentDisposition: 'render', contentType: 'application/dtmf', content: '7' } },
            requestDelegate: { onAccept: resolve, onReject: (r) => reject(new Error(`INFO ${r.message.statusCode}`)) },
          })
          .catch(reject),
      );
      await a.sendDtmf('8*9#');
      assert.deepEqual(await mixed, { digits: '5678*9', reason: 'terminator', terminator: '#' });
    } finally {
      await a.hangup();
      await b.ended;
    }
  });

  test('collectDigits: timeout, inter-digit timeout and the call ending settle it with the reason', async () => {
    const [a, b] = await establish(alice, bob);
    try {
      let t0 = performance.now();
      const none = await b.collectDigits({ timeoutMs: 400 });
      let ms = performance.now() - t0;
      assert.deepEqual(none, { digits: '', reason: 'timeout' });
      assert.ok(ms >= 390 && ms < 1000, `timeout after ${ms.toFixed(0)} ms`);

      const gap = b.collectDigits({ timeoutMs: 10000, interDigitTimeoutMs: 600 });
      await a.sendDtmf('42');
      t0 = performance.now();
      assert.deepEqual(await gap, { digits: '42', reason: 'interDigitTimeout' });
      ms = performance.now() - t0;
      assert.ok(ms > 300 && ms < 1500, `inter-digit timeout ${ms.toFixed(0)} ms after the last digit was sent`);

      // Bad options are refused up front.
      assert.throws(() => b.collectDigits({ max: 0 }), { code: 'ERR_INVALID_ARG' });
      assert.throws(() => b.collectDigits({ terminators: 'x' }), { code: 'ERR_INVALID_ARG' });
      assert.throws(() => b.collectDigits({ timeoutMs: -1 }), { code: 'ERR_INVALID_ARG' });

      const pending = b.collectDigits({ timeoutMs: 0, interDigitTimeoutMs: 0 });
      const hold = b.hold(); // queued after nothing; the BYE below may cut it short
      await hold.catch(() => undefined);
      await a.hangup();
      assert.deepEqual(await withTimeout(pending, 5000, 'collector settles on BYE'), { digits: '', reason: 'ended' });
    } finally {
      await a.hangup();
      await b.ended;
    }
  });

  test('playAndCollect: the first digit stops the prompt within 100 ms', async () => {
    const [a, b] = await establish(alice, bob);
    try {
      const PROMPT_HZ = 1000;
      let tDigit;
      b.addEventListener('dtmf', () => (tDigit ??= performance.now()), { once: true });
      // alice listens in 20 ms batches. The time from bob's play() to alice
      // hearing it is the path's own delay (packetisation, network, alice's
      // jitter buffer, batching); the same delay applies when the prompt stops,
      // so stop latency = (quiet at alice - digit at bob) - that delay.
      const frames = a.audio({ sampleRate: 16000, batchMs: 20 })[Symbol.asyncIterator]();
      await frames.next(); // the stream runs
      const tPlay = performance.now();
      const collecting = b.playAndCollect(tone(PROMPT_HZ, 20000), { max: 1, timeoutMs: 5000 });
      let tLoud;
      let loud = 0;
      let tSend;
      let tQuiet;
      for (let i = 0; i < 500; i++) {
        const { value: f, done } = await frames.next();
        if (done) break;
        const now = performance.now();
        const level = rms(f.samples);
        if (tSend === undefined) {
          if (level > 2000) tLoud ??= now;
          if (level > 2000 && ++loud === 25) {
            tSend = performance.now();
            void a.sendDtmf('5');
          }
          continue;
        }
        if (level < 300) {
          tQuiet = now;
          break;
        }
      }
      await frames.return();
      const r = await collecting;
      assert.deepEqual(r, { digits: '5', reason: 'max', bargedIn: true });
      assert.ok(tQuiet !== undefined && tDigit !== undefined && tLoud !== undefined, 'the prompt was heard, then stopped');
      const pathDelay = tLoud - tPlay;
      const raw = tQuiet - tDigit;
      const stop = raw - pathDelay;
      console.log(
        `barge-in: digit reached bob ${(tDigit - tSend).toFixed(1)} ms after alice sent it; prompt quiet at alice ${raw.toFixed(1)} ms after that; ` +
          `path delay (play -> heard) ${pathDelay.toFixed(1)} ms; stop latency ${stop.toFixed(1)} ms`,
      );
      assert.ok(stop < 100, `the prompt went on ${stop.toFixed(1)} ms after the digit`);
      // And whatever the path delay measured at the start, the far end hears the stop soon.
      assert.ok(raw < 250, `the prompt was still heard ${raw.toFixed(1)} ms after the digit`);
      // Without barge-in the prompt plays on.
      const noBarge = b.playAndCollect(tone(PROMPT_HZ, 1500), { max: 1, bargeIn: false, timeoutMs: 2000 });
      const t0 = performance.now();
      await a.sendDtmf('7');
      assert.deepEqual(await noBarge, { digits: '7', reason: 'max', bargedIn: false });
      assert.ok(performance.now() - t0 > 1000, 'resolved only after the prompt');
    } finally {
      await a.hangup();
      await b.ended;
    }
  });

  test('why a call ended: 404, 486, 603, CANCEL, no answer, BYE from each side, media failure', async () => {
    // 404: nobody registered as dave. dial() rejects with the status.
    let err = await dial(alice.ua, uri('dave')).catch((e) => e);
    assert.ok(err instanceof CallEndedError, String(err));
    assert.equal(err.sipStatus, 404);
    assert.deepEqual(err.end, { by: 'remote', reason: 'rejected', sipStatus: 404 });

    // 486 and 603 from bob's Call.reject().
    for (const status of [486, 603]) {
      const inv = bob.nextInvite();
      const dialing = dial(alice.ua, uri('bob')).catch((e) => e);
      const bobCall = new Call(await inv);
      await bobCall.reject(status);
      err = await dialing;
      assert.ok(err instanceof CallEndedError);
      assert.deepEqual(err.end, { by: 'remote', reason: 'rejected', sipStatus: status });
      assert.deepEqual(await bobCall.ended, { by: 'local', reason: 'rejected', sipStatus: status });
      await assert.rejects(bobCall.established, { code: 'ERR_CALL_ENDED' });
    }

    // CANCEL while ringing: the caller's call ends local/cancel, the callee's remote/cancel.
    {
      let aliceCall;
      const inv = bob.nextInvite();
      const dialing = dial(alice.ua, uri('bob'), { onCall: (c) => (aliceCall = c) }).catch((e) => e);
      const bobCall = new Call(await inv);
      await aliceCall.hangup();
      err = await dialing;
      assert.equal(err.end.by, 'local');
      assert.equal(err.end.reason, 'cancel');
      assert.deepEqual(await bobCall.ended, { by: 'remote', reason: 'cancel', sipStatus: 487 });
    }

    // No answer within answerTimeoutMs: CANCEL, reason no-answer.
    {
      const inv = bob.nextInvite();
      const t0 = performance.now();
      const dialing = dial(alice.ua, uri('bob'), { answerTimeoutMs: 700 }).catch((e) => e);
      const bobCall = new Call(await inv);
      err = await dialing;
      const ms = performance.now() - t0;
      assert.equal(err.end.reason, 'no-answer');
      assert.equal(err.end.by, 'local');
      assert.ok(ms >= 650 && ms < 3000, `no-answer after ${ms.toFixed(0)} ms`);
      assert.equal((await bobCall.ended).reason, 'cancel');
    }

    // A call that ends before it has media: waiters reject instead of hanging.
    {
      const inv = alice.nextInvite();
      let bobCall;
      const dialing = dial(bob.ua, uri('alice'), { inviterOptions: { inviteWithoutSdp: true }, onCall: (c) => (bobCall = c) }).catch((e) => e);
      const playing = bobCall.play(tone(500, 1000));
      const collecting = bobCall.collectDigits({ timeoutMs: 0 });
      const aliceCall = new Call(await inv);
      await aliceCall.reject(480);
      await assert.rejects(withTimeout(playing, 5000, 'play settles'), { code: 'ERR_CLOSED' });
      assert.deepEqual(await collecting, { digits: '', reason: 'ended' });
      assert.equal((await dialing).sipStatus, 480);
    }

    // BYE from each side.
    for (const byer of ['caller', 'callee']) {
      const [a, b] = await establish(alice, bob);
      await a.established;
      if (byer === 'caller') await a.hangup();
      else await b.hangup();
      const [ea, eb] = await Promise.all([a.ended, b.ended]);
      assert.deepEqual(ea, { by: byer === 'caller' ? 'local' : 'remote', reason: 'bye' });
      assert.deepEqual(eb, { by: byer === 'caller' ? 'remote' : 'local', reason: 'bye' });
      assert.equal(a.state, 'ended');
    }

    // Media failure: alice's media goes away without a BYE; bob hangs up.
    {
      const [a, b] = await establish(alice, bob);
      // Media up first: this case is a connected far end vanishing. (A far end
      // that closes mid-handshake sends no close_notify; only ICE consent
      // notices that, in ~30 s.)
      await waitState(a.peerConnection, 'connected');
      await waitState(b.peerConnection, 'connected');
      a.peerConnection.close();
      const [eb, ea] = await withTimeout(Promise.all([b.ended, a.ended]), 10000, 'media failure ends the call');
      // remote-closed, or connection-failed when the transport's failure beats the coded warning.
      assert.ok(eb.by === 'local' && eb.reason === 'media-failed' && ['remote-closed', 'connection-failed'].includes(eb.mediaFailure), JSON.stringify(eb));
      // alice's own closed media may fail her side too before bob's BYE lands.
      assert.ok((ea.by === 'remote' && ea.reason === 'bye') || (ea.by === 'local' && ea.reason === 'media-failed'), JSON.stringify(ea));
    }
  });

  test('state model: statechange in order; overlapping hold/unhold run queued; held only once confirmed', async () => {
    const states = [];
    const inv = bob.nextInvite();
    const dialing = dial(alice.ua, uri('bob'), { onCall: (c) => c.addEventListener('statechange', (e) => states.push(`${e.previous}>${e.state}`)) });
    const invitation = await inv;
    // A re-INVITE before bob has the ACK draws 500 + Retry-After (up to 10 s): wait for it.
    const acked = new Promise((resolve) => (invitation.delegate = { ...invitation.delegate, onAck: (ack) => (resolve(), ack.accept?.()) }));
    const b = await answerCall(invitation);
    const a = await dialing;
    await withTimeout(acked, 5000, 'ACK');
    try {
      assert.deepEqual(states, ['new>connecting', 'connecting>established']);
      assert.equal(a.state, 'established');
      const order = [];
      const h1 = a.hold().then(() => order.push(`hold:${a.held}`));
      assert.equal(a.held, false, 'not held before the far end agreed');
      const u1 = a.unhold().then(() => order.push(`unhold:${a.held}`));
      const h2 = a.hold().then(() => order.push(`hold:${a.held}`));
      await Promise.all([h1, u1, h2]);
      assert.deepEqual(order, ['hold:true', 'unhold:false', 'hold:true']);
      assert.match(a.peerConnection.localDescription.sdp, /a=sendonly/);
      assert.match(b.peerConnection.localDescription.sdp, /a=recvonly/);
      await a.unhold();
      b.play(tone(650));
      assert.ok(near(await heardTone(a), 650), 'media after the queued re-INVITEs');
      // An operation in flight when the far end hangs up settles (its media may
      // close before the BYE lands: ERR_WEBRTC then); any after the end rejects.
      const late = a.hold().then(
        () => 'ok',
        (e) => e.code,
      );
      await b.hangup();
      await a.ended;
      assert.ok(['ok', 'ERR_CLOSED', 'ERR_WEBRTC'].includes(await withTimeout(late, 5000, 'hold in flight settles')));
      await assert.rejects(a.hold(), { code: 'ERR_CLOSED' });
      await assert.rejects(a.transfer(uri('carol')), { code: 'ERR_CLOSED' });
    } finally {
      await a.hangup();
      await b.ended;
    }
    assert.equal(states.at(-1), 'established>ended');
  });

  test('serveCalls: an error thrown by the handler is reported with its call, which is hung up', async () => {
    const previous = carol.ua.delegate;
    const errors = [];
    const server = serveCalls(carol.ua, async (call) => {
      await call.play(tone(300, 100));
      throw new Error('handler bug');
    });
    const reported = new Promise((resolve) => server.addEventListener('error', (e) => (errors.push(e), resolve())));
    try {
      const a = await dial(alice.ua, uri('carol'));
      await withTimeout(reported, 10000, 'error event');
      assert.equal(errors[0].error.message, 'handler bug');
      assert.equal(errors[0].call.state === 'ending' || errors[0].call.state === 'ended', true);
      assert.deepEqual(await a.ended, { by: 'remote', reason: 'bye' });
      assert.deepEqual(await errors[0].call.ended, { by: 'local', reason: 'error' });
    } finally {
      server.close();
      assert.equal(carol.ua.delegate, previous);
    }
  });

  test('blind transfer: bob REFERs alice to carol; alice accepts, carol answers, tone heard; bob is hung up', async () => {
    const [a, b] = await establish(alice, bob);
    const refers = [];
    a.addEventListener('refer', (e) => refers.push({ e, follow: e.accept() }));
    const carolInvite = carol.nextInvite();
    const transferring = b.transfer(uri('carol'));
    const c = await answerCall(await carolInvite);
    await transferring;
    assert.equal(refers.length, 1);
    assert.equal(refers[0].e.referTo, uri('carol'));
    assert.equal(refers[0].e.replaces, undefined);
    const a2 = await refers[0].follow;
    c.play(tone(700));
    a2.play(tone(1200));
    const [heardByAlice, heardByCarol] = await Promise.all([heardTone(a2), heardTone(c)]);
    assert.ok(near(heardByAlice, 700), `alice hears carol: ${heardByAlice}`);
    assert.ok(near(heardByCarol, 1200), `carol hears alice: ${heardByCarol}`);
    assert.deepEqual(await b.ended, { by: 'local', reason: 'transferred' });
    assert.deepEqual(await a.ended, { by: 'remote', reason: 'bye' });
    await a2.hangup();
    await c.ended;
  });

  test('transfer failures: target unknown (404), REFER declined by a listener and by default (603)', async () => {
    const [a, b] = await establish(alice, bob);
    try {
      const followed = [];
      const onRefer = (e) => followed.push(e.accept().catch((x) => x));
      a.addEventListener('refer', onRefer);
      let err = await b.transfer(uri('dave')).catch((e) => e);
      assert.ok(err instanceof TransferFailedError, String(err));
      assert.equal(err.sipStatus, 404);
      assert.equal((await followed[0]).sipStatus, 404, 'the transferee sees the 404 too');
      assert.equal(b.state, 'established', 'a failed transfer keeps the call');
      a.removeEventListener('refer', onRefer);

      a.addEventListener('refer', (e) => void e.reject(603), { once: true });
      err = await b.transfer(uri('carol')).catch((e) => e);
      assert.equal(err.sipStatus, 603);
      err = await b.transfer(uri('carol')).catch((e) => e); // no listener: declined
      assert.equal(err.sipStatus, 603);
      b.play(tone(820));
      assert.ok(near(await heardTone(a), 820), 'media still flows');
    } finally {
      await a.hangup();
      await b.ended;
    }
  });

  test('attended transfer: bob consults carol, then REFERs alice with Replaces; alice and carol talk', async () => {
    const [a, b1] = await establish(alice, bob); // alice -> bob
    await b1.hold();
    const [b2, c1] = await establish(bob, carol); // bob's consultation call to carol
    const refers = [];
    a.addEventListener('refer', (e) => refers.push({ e, follow: e.accept() }));
    const carolInvite = carol.nextInvite();
    const transferring = b1.transfer(b2);
    const inv = await carolInvite;
    assert.ok(inv.replacee, 'carol sees which call the INVITE replaces');
    const c2 = await answerCall(inv);
    await transferring;
    assert.ok(refers[0].e.replaces, 'the REFER carried Replaces');
    const a2 = await refers[0].follow;
    c2.play(tone(560));
    a2.play(tone(1500));
    const [heardByAlice, heardByCarol] = await Promise.all([heardTone(a2), heardTone(c2)]);
    assert.ok(near(heardByAlice, 560), `alice hears carol: ${heardByAlice}`);
    assert.ok(near(heardByCarol, 1500), `carol hears alice: ${heardByCarol}`);
    // carol's replaced call ended; bob is out of both.
    assert.equal((await c1.ended).by, 'local');
    assert.equal((await b2.ended).by, 'remote');
    assert.deepEqual(await b1.ended, { by: 'local', reason: 'transferred' });
    assert.deepEqual(await a.ended, { by: 'remote', reason: 'bye' });
    await a2.hangup();
    await c2.ended;
  });
});

describe('Call API when the SIP transport fails', { skip, timeout: 60_000 }, () => {
  test('an INVITE that cannot be sent ends the call as transport-failed', async () => {
    const kam = await startKamailio();
    const { parties: [alice], stop } = await kamailioParties(kam.wsUrl, ['alice']);
    try {
      await kam.stop();
      const err = await withTimeout(dial(alice.ua, uri('bob')).catch((e) => e), 40000, 'dial fails');
      assert.ok(err instanceof CallEndedError, String(err));
      assert.equal(err.end.reason, 'transport-failed');
      assert.equal(err.end.by, 'local');
    } finally {
      await stop().catch(() => undefined);
      await kam.stop();
    }
  });
});
