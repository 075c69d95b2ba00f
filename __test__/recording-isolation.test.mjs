// Recordings are written off the media tick: a recording into a FIFO that
// nobody reads must not delay another call on the same I/O thread, and a
// recording that cannot keep up says so with a `warning` event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, constants, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// One I/O thread, so both calls share one media tick (set before the addon loads).
process.env.SIPWIRE_IO_THREADS = '1';
const { connectedPair, waitFor } = await import('./helpers.mjs');
const { sineWave } = await import('../dist/index.js');

test('a stalled recording does not stall another call on the same I/O thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-fifo-'));
  const fifo = join(dir, 'stalled.wav');
  execFileSync('mkfifo', [fifo]);
  // Open for reading (so the writer's open succeeds) and never read: the
  // pipe fills after 64 KiB, about 0.7 s of 48 kHz audio.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const [a1, b1] = await connectedPair();
  const [a2, b2] = await connectedPair();
  try {
    const tone = { samples: sineWave(1000, 16000, 1000), sampleRate: 16000 };
    a1.play(tone, { loop: true });
    a2.play(tone, { loop: true });
    const overrun = waitFor(b1, 'warning', (e) => e.code === 'recording-overrun', 15000);
    await b1.startRecording(fifo, { sampleRate: 48000 });

    // Watch call 2's decoded audio arrive for 3 s, in 20 ms batches.
    let last = performance.now();
    let worstGap = 0;
    let frames = 0;
    const end = last + 3000;
    for await (const frame of b2.audio({ sampleRate: 16000, batchMs: 20 })) {
      const t = performance.now();
      worstGap = Math.max(worstGap, t - last);
      last = t;
      frames += 1;
      assert.equal(frame.samples.length, 320);
      if (t >= end) break;
    }
    assert.ok(frames >= 120, `call 2 got ${frames} frames in 3 s`);
    assert.ok(worstGap < 100, `call 2's audio had a ${worstGap.toFixed(1)} ms gap`);
    const w = await overrun;
    assert.match(w.message, /cannot keep up/);
    // Stopping a stalled recording still settles (the writer drops, never blocks).
    await b1.stopRecording();
  } finally {
    for (const pc of [a1, b1, a2, b2]) pc.close();
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a recording that cannot be opened rejects with ERR_WAV naming the file', async () => {
  const [a, b] = await connectedPair();
  try {
    await assert.rejects(b.startRecording('/nonexistent-dir/x.wav'), (e) => {
      assert.equal(e.code, 'ERR_WAV');
      assert.match(e.message, /\/nonexistent-dir\/x\.wav/);
      return true;
    });
    // The connection is unaffected and a good recording still works.
    const dir = mkdtempSync(join(tmpdir(), 'sipwire-rec-'));
    await b.startRecording(join(dir, 'ok.wav'));
    await b.stopRecording();
    rmSync(dir, { recursive: true, force: true });
  } finally {
    a.close();
    b.close();
  }
});
