// RTCP sender/receiver reports are sipwire's own (src/rtcp.rs): each end
// must learn what the other received (remote-inbound-rtp, with a round-trip
// time from its SR echoed back) and what the other sent (remote-outbound-rtp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { connectedPair, sendTone } from './helpers.mjs';

/** Poll getStats until `pred` holds for one entry of `type` (reports come every ~5 s). */
async function statWhen(pc, type, pred, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = [...(await pc.getStats()).values()].find((e) => e.type === type && pred(e));
    if (s) return s;
    if (Date.now() > deadline) throw new Error(`no ${type} matching after ${ms} ms`);
    await delay(100);
  }
}

test('each end reports to the other: remote-inbound-rtp with RTT, remote-outbound-rtp', async () => {
  const [a, b] = await connectedPair({ codecs: ['pcmu'] }, { codecs: ['pcmu'] });
  try {
    sendTone(a, 1000, 12000, 8000);
    sendTone(b, 440, 12000, 8000);
    for (const [me, other] of [
      [a, b],
      [b, a],
    ]) {
      // The first report goes out 1 s after media starts; an RTT needs the
      // far end to have seen one of our SRs first, so allow two intervals.
      const ri = await statWhen(me, 'remote-inbound-rtp', (e) => e.roundTripTimeMeasurements > 0, 16000);
      const all = [...(await me.getStats()).values()];
      const out = all.find((e) => e.type === 'outbound-rtp');
      assert.equal(ri.ssrc, out.ssrc, 'the block is about our stream');
      assert.equal(ri.localId, out.id);
      assert.ok(ri.roundTripTime >= 0 && ri.roundTripTime < 0.05, `RTT ${ri.roundTripTime}`);
      assert.equal(ri.packetsLost, 0);
      assert.equal(ri.fractionLost, 0);
      const ro = all.find((e) => e.type === 'remote-outbound-rtp');
      const theirOut = [...(await other.getStats()).values()].find((e) => e.type === 'outbound-rtp');
      assert.equal(ro.ssrc, theirOut.ssrc);
      assert.ok(ro.packetsSent > 0 && ro.packetsSent <= theirOut.packetsSent, `${ro.packetsSent} vs ${theirOut.packetsSent}`);
    }
  } finally {
    a.close();
    b.close();
  }
});
