// Bad input is rejected with a stable code, and the connection stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RTCPeerConnection } from '../dist/index.js';
import { LOOPBACK, negotiate, waitState } from './helpers.mjs';

const ONLY_AMR = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
  'a=fingerprint:sha-256 ' + Array(32).fill('AB').join(':'),
  'm=audio 40000 UDP/TLS/RTP/SAVPF 96 101', 'c=IN IP4 127.0.0.1', 'a=mid:0',
  'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:actpass', 'a=rtcp-mux',
  'a=rtpmap:96 AMR/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', '',
].join('\r\n');

const PLAIN_RTP = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 40000 RTP/AVP 0 8 101', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', '',
].join('\r\n');

async function stillUsable(b) {
  // The same connection can still answer a good offer and connect.
  const a = new RTCPeerConnection(LOOPBACK);
  try {
    const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    await negotiate(a, b);
    await up;
  } finally {
    a.close();
  }
}

test('garbage SDP is rejected with ERR_SDP_PARSE', async () => {
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    await assert.rejects(b.setRemoteDescription({ type: 'offer', sdp: 'this is not SDP' }), { code: 'ERR_SDP_PARSE' });
    assert.equal(b.signalingState, 'stable');
    await stillUsable(b);
  } finally {
    b.close();
  }
});

test('an offer with only unknown codecs is rejected with ERR_NO_COMMON_CODEC', async () => {
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    const err = await b.setRemoteDescription({ type: 'offer', sdp: ONLY_AMR }).catch((e) => e);
    assert.equal(err.code, 'ERR_NO_COMMON_CODEC');
    assert.match(err.message, /AMR/);
    await stillUsable(b);
  } finally {
    b.close();
  }
});

test('an RTP/AVP offer is refused with ERR_UNSUPPORTED_PROFILE when allowUnencryptedMedia is false', async () => {
  const b = new RTCPeerConnection({ ...LOOPBACK, allowUnencryptedMedia: false });
  try {
    await assert.rejects(b.setRemoteDescription({ type: 'offer', sdp: PLAIN_RTP }), { code: 'ERR_UNSUPPORTED_PROFILE' });
    assert.equal(b.signalingState, 'stable');
    await stillUsable(b);
  } finally {
    b.close();
  }
});

test('by default an RTP/AVP offer is answered in RTP/AVP, without ICE or DTLS', async () => {
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    await b.setRemoteDescription({ type: 'offer', sdp: PLAIN_RTP });
    await b.setLocalDescription(await b.createAnswer());
    const sdp = b.localDescription.sdp;
    assert.match(sdp, /m=audio \d+ RTP\/AVP 0 8 101/);
    assert.doesNotMatch(sdp, /ice-ufrag|fingerprint|a=setup/);
  } finally {
    b.close();
  }
});

test('an SDES offer with only unknown crypto suites is rejected with ERR_UNSUPPORTED_PROFILE', async () => {
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    const sdp = PLAIN_RTP.replace('RTP/AVP', 'RTP/SAVP') +
      'a=crypto:1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n' +
      'a=crypto:2 AES_192_CM_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n';
    const err = await b.setRemoteDescription({ type: 'offer', sdp }).catch((e) => e);
    assert.equal(err.code, 'ERR_UNSUPPORTED_PROFILE');
    assert.match(err.message, /F8_128_HMAC_SHA1_80/);
    assert.doesNotMatch(err.message, /PS1uQCVe/, 'no key in the message');
    await stillUsable(b);
  } finally {
    b.close();
  }
});

test('setRemoteDescription in the wrong state is rejected with ERR_INVALID_STATE', async () => {
  const a = new RTCPeerConnection(LOOPBACK);
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    await a.setLocalDescription(await a.createOffer());
    // An answer while stable.
    await assert.rejects(b.setRemoteDescription({ type: 'answer', sdp: a.localDescription.sdp }), { code: 'ERR_INVALID_STATE' });
    await assert.rejects(b.createAnswer(), { code: 'ERR_INVALID_STATE' });
    assert.equal(b.signalingState, 'stable');
    await stillUsable(b);
  } finally {
    a.close();
    b.close();
  }
});

test('bad configuration throws synchronously with ERR_INVALID_ARG', () => {
  assert.throws(() => new RTCPeerConnection({ codecs: ['amr'] }), { code: 'ERR_INVALID_ARG' });
  assert.throws(() => new RTCPeerConnection({ portRange: { min: 5000, max: 4000 } }), { code: 'ERR_INVALID_ARG' });
  assert.throws(() => new RTCPeerConnection({ iceServers: [{ urls: 'turn:127.0.0.1' }] }), { code: 'ERR_INVALID_ARG' });
});

test('mDNS candidates are skipped, not fatal', async () => {
  const a = new RTCPeerConnection(LOOPBACK);
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(2000);
    const withMdns = a.localDescription.sdp.replace(
      'a=end-of-candidates',
      'a=candidate:9 1 udp 2113937151 3f1b2c4d-1111-2222-3333-444455556666.local 50000 typ host\r\na=end-of-candidates',
    );
    const warnings = [];
    b.addEventListener('warning', (e) => warnings.push(e.message));
    await b.setRemoteDescription({ type: 'offer', sdp: withMdns });
    await b.addIceCandidate({ candidate: 'candidate:9 1 udp 2113937151 abc.local 50001 typ host' });
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.filter((w) => /mdns.*\.local/.test(w)).length, 2, `each .local candidate is reported: ${warnings}`);
  } finally {
    a.close();
    b.close();
  }
});

test('garbage datagrams do not disturb a call', async () => {
  const dgram = await import('node:dgram');
  const a = new RTCPeerConnection(LOOPBACK);
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    await negotiate(a, b);
    await up;
    const port = Number(/m=audio (\d+)/.exec(b.localDescription.sdp)[1]);
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.alloc(1 + ((i * 37) % 1200), i & 0xff);
      if (i % 3 === 0) junk[0] = 0x80; // looks like RTP
      if (i % 3 === 1) junk[0] = 22; // looks like DTLS
      await new Promise((r) => sock.send(junk, port, '127.0.0.1', r));
    }
    sock.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(b.connectionState, 'connected');
  } finally {
    a.close();
    b.close();
  }
});
