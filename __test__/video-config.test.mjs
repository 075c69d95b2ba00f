// Video configuration and misuse (issue #13): bad options are refused at construction, a
// recording without negotiated video rejects with the reason (never hangs), and two sipwire
// peers with video negotiate a video section (offer recvonly -> answer inactive: neither
// sends video) while audio connects as before. Sending: video-send.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RTCPeerConnection } from '../dist/index.js';
import { LOOPBACK, connectedPair } from './helpers.mjs';

test('bad video options throw ERR_INVALID_ARG', () => {
  assert.throws(() => new RTCPeerConnection({ video: { codecs: ['vp9'] } }), { code: 'ERR_INVALID_ARG', message: /unknown video codec "vp9"/ });
  assert.throws(() => new RTCPeerConnection({ video: { direction: 'both' } }), { code: 'ERR_INVALID_ARG', message: /video direction must be/ });
  new RTCPeerConnection({ ...LOOPBACK, video: {} }).close();
});

test('startVideoRecording without negotiated video rejects with the reason', async () => {
  const [a, b] = await connectedPair({}, {});
  try {
    await assert.rejects(a.startVideoRecording('/tmp/never.ivf'), { code: 'ERR_WAV', message: /no video negotiated/ });
    await a.stopVideoRecording(); // nothing to finish: resolves
    assert.equal(a.connectionState, 'connected', 'the connection is unaffected');
  } finally {
    a.close();
    b.close();
  }
});

test('two peers with video: the offer carries a recvonly video section, the answer is inactive', async () => {
  const [a, b] = await connectedPair({ video: { codecs: ['vp8'] } }, { video: {} });
  try {
    const offer = a.localDescription.sdp;
    const answer = b.localDescription.sdp;
    assert.match(offer, /^m=video [1-9]\d* UDP\/TLS\/RTP\/SAVPF 96 97/m, offer);
    assert.match(offer, /^a=recvonly/m);
    assert.match(answer, /^m=video [1-9]/m, answer);
    assert.match(answer, /^a=inactive/m, 'neither end sends video (both receive-only)');
    assert.match(answer, /^a=group:BUNDLE 0 1/m);
    const stats = [...(await a.getStats()).values()];
    assert.ok(!stats.some((s) => s.kind === 'video'), 'no video stats without video');
  } finally {
    a.close();
    b.close();
  }
});
