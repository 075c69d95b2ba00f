// Non-trickle signaling as SIP does it, and hold/resume by direction change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RTCPeerConnection } from '../dist/index.js';
import { LOOPBACK, connectedPair, negotiate, record, sendTone, toneOf, waitFor, waitState, within } from './helpers.mjs';

test('non-trickle: B applies A complete offer, no addIceCandidate, and connects', async () => {
  const a = new RTCPeerConnection(LOOPBACK);
  const b = new RTCPeerConnection(LOOPBACK);
  const candidates = [];
  a.addEventListener('icecandidate', (e) => candidates.push(e.candidate));
  try {
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(2000);
    assert.equal(a.iceGatheringState, 'complete');
    assert.equal(candidates.at(-1), null, 'end-of-candidates is signalled with null');
    const offer = a.localDescription.sdp;
    assert.match(offer, /a=candidate:.* 127\.0\.0\.1 \d+ typ host/);
    assert.match(offer, /a=end-of-candidates/);
    assert.match(offer, /a=setup:actpass/);
    assert.match(offer, /a=fingerprint:sha-256 /);
    const port = /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+)/.exec(offer)[1];
    assert.match(offer, new RegExp(`m=audio ${port} `), 'm= names the default candidate');
    assert.match(offer, /c=IN IP4 127\.0\.0\.1/, 'c= names the default candidate');
    assert.ok(offer.includes('\r\n') && !/[^\r]\n/.test(offer), 'CRLF line ends');

    const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    await b.setRemoteDescription({ type: 'offer', sdp: offer });
    await b.setLocalDescription(await b.createAnswer());
    await b.waitForGatheringComplete(2000);
    assert.match(b.localDescription.sdp, /a=setup:passive/, 'answer to actpass prefers passive');
    await a.setRemoteDescription(b.localDescription);
    await up;
    assert.equal(a.signalingState, 'stable');
    assert.equal(b.signalingState, 'stable');
  } finally {
    a.close();
    b.close();
  }
});

test('hold: sendonly stops media from the held side, resume restores it, same DTLS session', async () => {
  const [a, b] = await connectedPair();
  const states = [];
  a.addEventListener('connectionstatechange', () => states.push(a.connectionState));
  b.addEventListener('connectionstatechange', () => states.push(b.connectionState));
  try {
    sendTone(b, 440, 20000);
    sendTone(a, 1000, 20000);
    assert.ok(within(toneOf(await record(a, 600)), 440, 0.02), 'A hears B before hold');
    const fingerprint = /a=fingerprint:(.*)/.exec(a.localDescription.sdp)[1];
    const ufrag = /a=ice-ufrag:(.*)/.exec(a.localDescription.sdp)[1];

    // A puts B on hold: A offers sendonly, B answers recvonly and stops sending.
    a.setDirection('sendonly');
    await negotiate(a, b);
    assert.match(a.localDescription.sdp, /a=sendonly/);
    assert.match(b.localDescription.sdp, /a=recvonly/);
    const before = await inboundPackets(a);
    await new Promise((r) => setTimeout(r, 500));
    const after = await inboundPackets(a);
    assert.ok(after - before <= 2, `held side kept sending: ${after - before} packets in 500 ms`);
    assert.ok(within(toneOf(await record(b, 600)), 1000, 0.02), 'B still hears A while held');

    a.setDirection('sendrecv');
    await negotiate(a, b);
    assert.match(b.localDescription.sdp, /a=sendrecv/);
    assert.ok(within(toneOf(await record(a, 600)), 440, 0.02), 'A hears B after resume');
    assert.equal(/a=fingerprint:(.*)/.exec(a.localDescription.sdp)[1], fingerprint);
    assert.equal(/a=ice-ufrag:(.*)/.exec(a.localDescription.sdp)[1], ufrag, 'no ICE restart');
    assert.deepEqual(states, [], 'no connection state change: no new DTLS handshake');
  } finally {
    a.close();
    b.close();
  }
});

async function inboundPackets(pc) {
  const s = [...(await pc.getStats()).values()].find((x) => x.type === 'inbound-rtp');
  return s ? s.packetsReceived : 0;
}

test('close() is idempotent, settles waiters and reports closed', async () => {
  const a = new RTCPeerConnection(LOOPBACK);
  const closed = waitFor(a, 'signalingstatechange', () => true, 2000).catch(() => null);
  a.close();
  a.close();
  assert.equal(a.signalingState, 'closed');
  assert.equal(a.connectionState, 'closed');
  await assert.rejects(a.createOffer(), { code: 'ERR_CLOSED' });
  await closed;
});

test('restartIce / iceRestart: the next offer carries new ICE credentials and the call reconnects', async () => {
  const [a, b] = await connectedPair();
  try {
    const before = /a=ice-ufrag:(.*)/.exec(a.localDescription.sdp)[1];
    a.restartIce();
    await negotiate(a, b);
    const after = /a=ice-ufrag:(.*)/.exec(a.localDescription.sdp)[1];
    assert.notEqual(after, before, 'new ufrag after restart');
    await waitState(a, 'connected');
    assert.ok(within(toneOf(await (async () => { sendTone(b, 440, 3000); return record(a, 600); })()), 440, 0.02));
  } finally {
    a.close();
    b.close();
  }
});

test('portRange: media sockets bind inside the range; an exhausted range throws ERR_IO', async () => {
  const dgram = await import('node:dgram');
  const probe = dgram.createSocket('udp4');
  await new Promise((r) => probe.bind(0, '127.0.0.1', r));
  const port = probe.address().port;
  probe.close();
  const a = new RTCPeerConnection({ ...LOOPBACK, portRange: { min: port, max: port } });
  try {
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(1000);
    assert.match(a.localDescription.sdp, new RegExp(`127\\.0\\.0\\.1 ${port} typ host`));
    assert.throws(() => new RTCPeerConnection({ ...LOOPBACK, portRange: { min: port, max: port } }), { code: 'ERR_IO' });
  } finally {
    a.close();
  }
});

for (const [offered, answered] of [['actpass', 'passive'], ['active', 'passive'], ['passive', 'active']]) {
  test(`a=setup:${offered} in the offer is answered a=setup:${answered} and connects`, async () => {
    const a = new RTCPeerConnection(LOOPBACK);
    const b = new RTCPeerConnection(LOOPBACK);
    try {
      await a.setLocalDescription(await a.createOffer());
      await a.waitForGatheringComplete(1000);
      // A real peer may offer active or passive; A's engine (actpass) follows the answer.
      const offer = a.localDescription.sdp.replace('a=setup:actpass', `a=setup:${offered}`);
      const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
      await b.setRemoteDescription({ type: 'offer', sdp: offer });
      await b.setLocalDescription(await b.createAnswer());
      await b.waitForGatheringComplete(1000);
      assert.match(b.localDescription.sdp, new RegExp(`a=setup:${answered}`));
      await a.setRemoteDescription(b.localDescription);
      await up;
    } finally {
      a.close();
      b.close();
    }
  });
}
