// play(source, { loop: true }) repeats in Rust until stopPlayback(): the far
// end keeps hearing a 200 ms tone long after 200 ms, and the promise resolves
// with stopped: true only when stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sineWave } from '../dist/index.js';
import { connectedPair, record, toneOf, within } from './helpers.mjs';

test('a looped play keeps sending until stopPlayback()', async () => {
  const [a, b] = await connectedPair({ codecs: ['pcmu'] }, { codecs: ['pcmu'] });
  try {
    let settled = false;
    const played = a.play({ samples: sineWave(700, 8000, 200), sampleRate: 8000 }, { loop: true });
    played.then(() => (settled = true));
    // 1.2 s of audio, i.e. six passes of the 200 ms tone: the last half must still be 700 Hz.
    const heard = await record(b, 1200, 8000);
    const f = toneOf(heard, 8000);
    assert.ok(within(f, 700, 0.02), `B heard ${f} Hz after the tone's own length, want 700`);
    assert.equal(settled, false, 'a looped play does not end by itself');
    a.stopPlayback();
    assert.deepEqual(await played, { stopped: true });
  } finally {
    a.close();
    b.close();
  }
});
