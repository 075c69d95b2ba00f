// How a connection ends on the wire, between two real sipwire peers on
// 127.0.0.1 (issue #15 items 4, 11, 12): a wrong DTLS fingerprint fails the
// connection with a reason, close() tells the far end (RTCP BYE + DTLS
// close_notify) and the far end notices at once, and connectivity checks that
// arrive before the offerer has the answer are answered (RFC 8445 §7.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { RTCPeerConnection } from '../dist/index.js';
import { LOOPBACK, connectedPair, record, sendTone, tamperFingerprint, toneOf, waitFor, waitState, within } from './helpers.mjs';

/** Every connectionState a peer reports, with the time it reported it. */
function trackStates(pc) {
  const seen = [];
  pc.addEventListener('connectionstatechange', () => seen.push({ state: pc.connectionState, at: performance.now() }));
  return seen;
}

test('wrong DTLS fingerprint: the checking side fails within 5 s with dtls-fingerprint-mismatch, the other hears the close', async () => {
  const a = new RTCPeerConnection(LOOPBACK);
  const b = new RTCPeerConnection(LOOPBACK);
  const bStates = trackStates(b);
  const bWarnings = [];
  b.addEventListener('warning', (e) => bWarnings.push(e));
  try {
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(2000);
    const bad = tamperFingerprint(a.localDescription.sdp);
    assert.notEqual(bad, a.localDescription.sdp, 'the fingerprint was changed');
    await b.setRemoteDescription({ type: 'offer', sdp: bad });
    await b.setLocalDescription(await b.createAnswer());
    await b.waitForGatheringComplete(2000);
    const bFailed = waitState(b, 'failed', 5000);
    const aFailed = waitState(a, 'failed', 5000);
    const t0 = performance.now();
    await a.setRemoteDescription(b.localDescription);
    await bFailed;
    const ms = performance.now() - t0;
    console.log(`wrong fingerprint: b failed ${ms.toFixed(1)} ms after the answer was applied; states ${bStates.map((s) => s.state).join(' -> ')}`);
    assert.ok(ms < 5000);
    assert.ok(!bStates.some((s) => s.state === 'connected'), 'never reported connected');
    const w = bWarnings.find((e) => e.code === 'dtls-fingerprint-mismatch');
    assert.ok(w, `a warning with code dtls-fingerprint-mismatch (got ${JSON.stringify(bWarnings.map((e) => [e.code, e.message]))})`);
    assert.match(w.message, /does not match/);
    // b tore the transport down with a close_notify: a hears it at once.
    await aFailed;
    const stats = [...(await b.getStats()).values()];
    const inbound = stats.find((s) => s.type === 'inbound-rtp');
    assert.equal(inbound?.packetsReceived ?? 0, 0, 'no media was accepted from the unverified peer');
  } finally {
    a.close();
    b.close();
  }
});

test('close() sends RTCP BYE and DTLS close_notify: the far end is failed with remote-closed within 1 s', async () => {
  const [a, b] = await connectedPair();
  try {
    sendTone(a, 600, 10000);
    sendTone(b, 700, 10000);
    assert.ok(within(toneOf(await record(b, 400)), 600, 0.03), 'media flows before the hang-up');
    const warned = waitFor(b, 'warning', (e) => e.code === 'remote-closed', 1000);
    const failed = waitState(b, 'failed', 1000);
    const t0 = performance.now();
    a.close();
    const w = await warned;
    await failed;
    const ms = performance.now() - t0;
    console.log(`remote close noticed in ${ms.toFixed(1)} ms: ${w.message}`);
    assert.ok(ms < 1000);
    assert.match(w.message, /close_notify/);
    assert.equal(b.signalingState, 'stable', 'the connection itself is not closed: the application decides');
  } finally {
    a.close();
    b.close();
  }
});

test('early connectivity checks: answered before the answer is applied, connected within 100 ms after it', async () => {
  for (let round = 0; round < 3; round++) {
    const a = new RTCPeerConnection(LOOPBACK);
    const b = new RTCPeerConnection(LOOPBACK);
    try {
      await a.setLocalDescription(await a.createOffer());
      await a.waitForGatheringComplete(2000);
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(await b.createAnswer());
      await b.waitForGatheringComplete(2000);
      // b checks a's candidates now; a has no answer yet for 50 ms.
      await new Promise((r) => setTimeout(r, 50));
      // b's ICE transport before a has the answer: only STUN has flowed yet,
      // so its packet counters are b's checks and a's answers to them.
      const transport = [...(await b.getStats()).values()].find((s) => s.type === 'transport');
      const sent = transport?.packetsSent ?? 0;
      const answered = transport?.packetsReceived ?? 0;
      assert.ok(sent > 0, 'b sent connectivity checks before a had the answer');
      assert.ok(answered > 0, `a answered b's early checks (RFC 8445 §7.3): ${answered} of ${sent} answered`);
      const up = waitState(a, 'connected', 2000);
      const t0 = performance.now();
      await a.setRemoteDescription(b.localDescription);
      await up;
      const ms = performance.now() - t0;
      console.log(`round ${round}: ${answered}/${sent} early checks answered; a connected ${ms.toFixed(1)} ms after applying the answer`);
      assert.ok(ms < 100, `connected in ${ms.toFixed(1)} ms`);
      await waitState(b, 'connected', 2000);
    } finally {
      a.close();
      b.close();
    }
  }
});
