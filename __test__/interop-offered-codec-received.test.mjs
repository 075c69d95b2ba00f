// Regression (found against Chromium 156): a browser that restricted its codecs
// answers PCMU-only, yet sends Opus on the payload type our offer listed. The
// offerer must decode every format it offered (RFC 3264 §5.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RTCPeerConnection } from '../dist/index.js';
import { LOOPBACK, record, sendTone, toneOf, waitState, within } from './helpers.mjs';

test('the offerer decodes a codec it offered even when the answer lists another', async () => {
  const a = new RTCPeerConnection(LOOPBACK); // sipwire offerer
  const b = new RTCPeerConnection(LOOPBACK); // sends Opus, like the browser
  try {
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(2000);
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await b.waitForGatheringComplete(2000);
    // The answer as Chromium wrote it: PCMU and telephone-event only.
    const pcmuOnly = b.localDescription.sdp
      .split('\r\n')
      .filter((l) => !/^a=(rtpmap|fmtp|rtcp-fb):/.test(l))
      .map((l) => (l.startsWith('m=audio') ? l.split(' ').slice(0, 3).concat(['0', '101']).join(' ') : l))
      .join('\r\n')
      .replace(/^(a=mid:.*)$/m, '$1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15');
    const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    await a.setRemoteDescription({ type: 'answer', sdp: pcmuOnly });
    await up;
    sendTone(b, 700, 3000);
    const f = toneOf(await record(a, 800));
    assert.ok(within(f, 700, 0.02), `offerer heard ${f} Hz`);
  } finally {
    a.close();
    b.close();
  }
});
