// measureOneWayDelay: abs-send-time is negotiated only when both ends want it,
// stamped packets still pass SRTP and decode (a tone crosses), and inbound-rtp
// reports a plausible loopback delay from Rust-side samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectedPair, record, sendTone, toneOf, within } from './helpers.mjs';

const EXTMAP = /^a=extmap:(\d+)(\/\w+)? http:\/\/www\.webrtc\.org\/experiments\/rtp-hdrext\/abs-send-time\r?$/m;
const DELAY_FIELDS = ['oneWayDelayP50', 'oneWayDelayP99', 'oneWayDelaySamples', 'oneWayDelayHistogram'];

async function inbound(pc) {
  return [...(await pc.getStats()).values()].find((s) => s.type === 'inbound-rtp');
}

/** Poll `pc`'s inbound-rtp until it has delay samples (bounded: 50 x 100 ms). */
async function delaySamples(pc) {
  for (let i = 0; i < 50; i++) {
    const s = await inbound(pc);
    if (s?.oneWayDelaySamples > 0) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  return inbound(pc);
}

test('both ends on: extmap negotiated, delay measured on both sides', async () => {
  const on = { codecs: ['pcmu'], measureOneWayDelay: true };
  const [a, b] = await connectedPair(on, on);
  try {
    const offerId = a.localDescription.sdp.match(EXTMAP)?.[1];
    const answerId = b.localDescription.sdp.match(EXTMAP)?.[1];
    assert.ok(offerId, 'offer carries abs-send-time extmap');
    assert.equal(answerId, offerId, 'answer echoes the offer id');
    sendTone(a, 1000, 3000);
    // Decoding proves the stamped packets authenticated (SRTP covers the header).
    const heard = await record(b, 600);
    assert.ok(within(toneOf(heard), 1000, 0.02), 'tone crosses with the extension on');
    for (const pc of [a, b]) {
      const s = await delaySamples(pc);
      assert.ok(s.oneWayDelaySamples > 0, `samples: ${s.oneWayDelaySamples}`);
      assert.ok(s.oneWayDelaySamples <= s.packetsReceived);
      const { oneWayDelayP50: p50, oneWayDelayP99: p99 } = s;
      assert.ok(p50 >= 0 && p50 <= p99 && p99 < 0.05, `p50 ${p50} s, p99 ${p99} s`);
      const binned = Object.values(s.oneWayDelayHistogram).reduce((x, y) => x + y, 0);
      assert.equal(binned, s.oneWayDelaySamples);
      for (const k of Object.keys(s.oneWayDelayHistogram)) assert.ok(Number(k) >= 0, k);
    }
  } finally {
    a.close();
    b.close();
  }
});

for (const [name, optsA, optsB] of [
  ['offerer off', {}, { measureOneWayDelay: true }],
  ['answerer off', { measureOneWayDelay: true }, {}],
]) {
  test(`${name}: no extmap in the answer, no delay samples`, async () => {
    const [a, b] = await connectedPair({ codecs: ['pcmu'], ...optsA }, { codecs: ['pcmu'], ...optsB });
    try {
      assert.equal(EXTMAP.test(a.localDescription.sdp), Boolean(optsA.measureOneWayDelay));
      assert.doesNotMatch(b.localDescription.sdp, EXTMAP);
      await record(b, 300);
      await record(a, 300);
      for (const [pc, opts] of [
        [a, optsA],
        [b, optsB],
      ]) {
        const s = await inbound(pc);
        assert.ok(s.packetsReceived > 0);
        if (opts.measureOneWayDelay) {
          // Asked for, but not negotiated: fields present, nothing sampled.
          assert.equal(s.oneWayDelaySamples, 0);
          assert.equal(s.oneWayDelayP50, null);
          assert.deepEqual(s.oneWayDelayHistogram, {});
        } else {
          for (const f of DELAY_FIELDS) assert.equal(s[f], undefined, f);
        }
      }
    } finally {
      a.close();
      b.close();
    }
  });
}
