// Server-reflexive candidates from a configured STUN server: a real STUN
// Binding responder on 127.0.0.1 (RFC 5389, XOR-MAPPED-ADDRESS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { RTCPeerConnection } from '../dist/index.js';
import { LOOPBACK, negotiate, waitFor, waitState } from './helpers.mjs';

function stunServer() {
  const sock = dgram.createSocket('udp4');
  let requests = 0;
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001 || msg.readUInt32BE(4) !== 0x2112a442) return;
    requests++;
    const res = Buffer.alloc(32);
    res.writeUInt16BE(0x0101, 0); // Binding Success
    res.writeUInt16BE(12, 2);
    msg.copy(res, 4, 4, 20); // cookie + transaction id
    res.writeUInt16BE(0x0020, 20); // XOR-MAPPED-ADDRESS
    res.writeUInt16BE(8, 22);
    res.writeUInt8(0x01, 25); // IPv4
    res.writeUInt16BE(rinfo.port ^ 0x2112, 26);
    const ip = rinfo.address.split('.').map(Number);
    res.writeUInt32BE((((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) ^ 0x2112a442) >>> 0, 28);
    sock.send(res, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ sock, port: sock.address().port, count: () => requests })));
}

test('srflx candidates come from the configured STUN server and calls still connect', async () => {
  const stun = await stunServer();
  const a = new RTCPeerConnection({ ...LOOPBACK, iceServers: [{ urls: `stun:127.0.0.1:${stun.port}` }] });
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    await negotiate(a, b);
    assert.ok(stun.count() >= 1, 'a Binding request reached the STUN server');
    assert.match(a.localDescription.sdp, /typ srflx raddr 127\.0\.0\.1 rport \d+/);
    assert.match(a.localDescription.sdp, /a=end-of-candidates/);
    await up;
  } finally {
    a.close();
    b.close();
    stun.sock.close();
  }
});

test('an unanswered STUN server ends gathering at the timeout, with host candidates', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise((r) => silent.bind(0, '127.0.0.1', r));
  const a = new RTCPeerConnection({ ...LOOPBACK, iceGatheringTimeout: 300, iceServers: [{ urls: `stun:127.0.0.1:${silent.address().port}` }] });
  try {
    await a.setLocalDescription(await a.createOffer());
    const t0 = performance.now();
    await a.waitForGatheringComplete(5000);
    const waited = performance.now() - t0;
    assert.equal(a.iceGatheringState, 'complete');
    assert.ok(waited < 2000, `gathering ended after ${waited.toFixed(0)} ms`);
    assert.match(a.localDescription.sdp, /typ host/);
    assert.doesNotMatch(a.localDescription.sdp, /typ srflx/);
  } finally {
    a.close();
    silent.close();
  }
});

test('TURN is accepted in the configuration; relay-only policy gathers nothing and says so', async () => {
  const a = new RTCPeerConnection({
    ...LOOPBACK,
    iceTransportPolicy: 'relay',
    iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }],
  });
  try {
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(1000);
    assert.doesNotMatch(a.localDescription.sdp, /a=candidate/);
  } finally {
    a.close();
  }
});

test('STUN server names resolve off the JS thread; an unresolvable one is a coded warning, not a throw', async () => {
  const stun = await stunServer();
  // `localhost` resolves from /etc/hosts; `.invalid` never resolves (RFC 6761).
  const a = new RTCPeerConnection({
    ...LOOPBACK,
    iceGatheringTimeout: 3000,
    iceServers: [{ urls: [`stun:localhost:${stun.port}`, 'stun:no-such-host.invalid:3478'] }],
  });
  try {
    const warned = waitFor(a, 'warning', (e) => e.code === 'ice-server-unresolved');
    await a.setLocalDescription(await a.createOffer());
    const w = await warned;
    assert.match(w.message, /no-such-host\.invalid/);
    await a.waitForGatheringComplete(5000);
    assert.equal(a.iceGatheringState, 'complete');
    assert.match(a.localDescription.sdp, /typ host/);
    assert.match(a.localDescription.sdp, /typ srflx raddr 127\.0\.0\.1 rport \d+/, 'the named server that resolves still gives srflx');
  } finally {
    a.close();
    stun.sock.close();
  }
});
