// Concurrent audio() iterators: each gets every frame at its own rate, and
// one ending does not starve the others (they used to cancel each other).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectedPair, record, toneOf, within } from './helpers.mjs';
import { sineWave } from '../dist/index.js';

test('two iterators at different rates and two at the same rate all hear the tone', async () => {
  const [a, b] = await connectedPair();
  try {
    a.play({ samples: sineWave(1000, 16000, 1000), sampleRate: 16000 }, { loop: true });
    // A short-lived 16 kHz reader ends first; the long ones must keep flowing.
    const [short, wide, narrow, wide2] = await Promise.all([
      record(b, 200, 16000),
      record(b, 1200, 16000),
      record(b, 1200, 8000),
      record(b, 1000, 16000),
    ]);
    assert.ok(short.length >= 3200);
    for (const [pcm, rate] of [[wide, 16000], [narrow, 8000], [wide2, 16000]]) {
      assert.ok(pcm.length >= (rate * 1000) / 1000, `${rate}: ${pcm.length} samples`);
      const f = toneOf(pcm, rate);
      assert.ok(within(f, 1000, 0.02), `${rate} Hz iterator heard ${f}`);
    }
    // After every iterator ended, a new one still works.
    const again = await record(b, 300, 8000);
    assert.ok(within(toneOf(again, 8000), 1000, 0.02));
  } finally {
    a.close();
    b.close();
  }
});

test('close() ends running iterators: for await loops finish instead of waiting forever', async () => {
  const [a, b] = await connectedPair();
  try {
    a.play({ samples: sineWave(1000, 16000, 1000), sampleRate: 16000 }, { loop: true });
    let frames = 0;
    const loops = [16000, 8000].map(async (sampleRate) => {
      for await (const f of b.audio({ sampleRate, batchMs: 20 })) {
        frames += f.samples.length > 0 ? 1 : 0;
        if (frames === 10) b.close();
      }
      return 'ended';
    });
    // Both loops are parked on their next batch when close() comes; they used to stay parked.
    let timer;
    const hung = new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting 3 s after close()'), 3000)));
    const results = await Promise.race([Promise.all(loops), hung]);
    clearTimeout(timer);
    assert.deepEqual(results, ['ended', 'ended']);
  } finally {
    a.close();
    b.close();
  }
});
