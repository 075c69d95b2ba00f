// A sends 1000 Hz and B sends 440 Hz; each side must detect the other's tone
// within 2%, for every codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectedPair, record, sendTone, toneOf, within } from './helpers.mjs';

for (const codec of ['opus', 'g722', 'pcmu', 'pcma', 'g729']) {
  test(`${codec}: tones cross both ways`, async () => {
    const [a, b] = await connectedPair({ codecs: [codec] }, { codecs: [codec] });
    try {
      sendTone(a, 1000, 3000);
      sendTone(b, 440, 3000);
      const [heardByB, heardByA] = await Promise.all([record(b, 1000), record(a, 1000)]);
      const fB = toneOf(heardByB);
      const fA = toneOf(heardByA);
      assert.ok(within(fB, 1000, 0.02), `B heard ${fB} Hz, want 1000 ±2%`);
      assert.ok(within(fA, 440, 0.02), `A heard ${fA} Hz, want 440 ±2%`);
      const stats = await b.getStats();
      const all = [...stats.values()];
      const codecStat = all.find((s) => s.type === 'codec');
      assert.equal(String(codecStat.mimeType).toLowerCase(), `audio/${codec}`);
      // W3C webrtc-stats names for the transport side too.
      const transport = all.find((s) => s.type === 'transport');
      assert.equal(transport.dtlsState, 'connected');
      assert.match(transport.srtpCipher, /^SRTP_/);
      const pair = all.find((s) => s.id === transport.selectedCandidatePairId);
      assert.equal(pair?.type, 'candidate-pair');
      assert.equal(pair.state, 'succeeded');
      const inbound = all.find((s) => s.type === 'inbound-rtp');
      assert.ok(inbound.packetsReceived > 0 && inbound.transportId === transport.id);
    } finally {
      a.close();
      b.close();
    }
  });
}
