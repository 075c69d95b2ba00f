// RFC 4733: "123#*A" arrives in order, each digit once, with telephone-event
// at 8000 Hz (negotiated with PCMU) and at 48000 Hz (with Opus).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectedPair } from './helpers.mjs';

for (const [codec, rate] of [['pcmu', 8000], ['opus', 48000]]) {
  test(`DTMF with telephone-event/${rate}`, async () => {
    const [a, b] = await connectedPair({ codecs: [codec] }, { codecs: [codec] });
    try {
      // The answer carries exactly one telephone-event, at the codec's rate.
      const answer = a.remoteDescription.sdp;
      assert.match(answer, new RegExp(`telephone-event/${rate}`));
      assert.equal((answer.match(/telephone-event\//g) ?? []).length, 1, answer);
      const got = [];
      const done = new Promise((resolve) => {
        b.addEventListener('dtmf', (ev) => {
          got.push(ev.digit);
          if (got.length === 6) resolve();
        });
      });
      await a.sendDtmf('123#*A', { duration: 100, interToneGap: 70 });
      await done;
      assert.equal(got.join(''), '123#*A');
      // No late duplicates: end packets are sent three times.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(got.join(''), '123#*A');
    } finally {
      a.close();
      b.close();
    }
  });
}

test('sendDtmf rejects bad tones and closed connections', async () => {
  const [a, b] = await connectedPair({ codecs: ['pcmu'] }, { codecs: ['pcmu'] });
  await assert.rejects(a.sendDtmf('12x'), { code: 'ERR_INVALID_ARG' });
  a.close();
  b.close();
  await assert.rejects(a.sendDtmf('1'), { code: 'ERR_CLOSED' });
});
