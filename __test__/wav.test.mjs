// A WAV played on A and recorded on B holds the tone, its duration within 5%.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectedPair } from './helpers.mjs';
import { readWav, writeWav, sineWave, detectTone } from '../dist/index.js';

test('WAV played on A is recorded on B with the tone and its duration', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-wav-'));
  const [a, b] = await connectedPair({ codecs: ['opus'] }, { codecs: ['opus'] });
  try {
    const src = join(dir, 'tone.wav');
    const out = join(dir, 'recorded.wav');
    writeWav(src, sineWave(800, 16000, 1000), 16000);
    await b.startRecording(out, { sampleRate: 16000 });
    const result = await a.play(src);
    assert.equal(result.stopped, false);
    // Let the jitter buffer drain the tail before closing the file.
    await new Promise((r) => setTimeout(r, 300));
    await b.stopRecording();
    const rec = readWav(out);
    assert.equal(rec.sampleRate, 16000);
    // Tone duration: 10 ms blocks whose energy is well above the silence floor.
    const block = 160;
    let toneBlocks = 0;
    for (let i = 0; i + block <= rec.samples.length; i += block) {
      let e = 0;
      for (let k = i; k < i + block; k++) e += rec.samples[k] * rec.samples[k];
      if (Math.sqrt(e / block) > 1000) toneBlocks++;
    }
    const ms = toneBlocks * 10;
    assert.ok(Math.abs(ms - 1000) <= 50, `recorded tone lasts ${ms} ms, want 1000 ±5%`);
    const f = detectTone(rec.samples, 16000);
    assert.ok(Math.abs(f - 800) <= 16, `recorded tone is ${f} Hz, want 800`);
  } finally {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('play() can be stopped and rejects unreadable files', async () => {
  const [a, b] = await connectedPair();
  try {
    const p = a.play({ samples: sineWave(500, 8000, 10000), sampleRate: 8000 });
    a.stopPlayback();
    assert.deepEqual(await p, { stopped: true });
    await assert.rejects(a.play('/nonexistent.wav'), (e) => {
      assert.equal(e.code, 'ERR_WAV');
      assert.match(e.message, /\/nonexistent\.wav/, 'the error names the file');
      return true;
    });
  } finally {
    a.close();
    b.close();
  }
});

test('a WAV file loads off the JS thread; stopPlayback() while it loads still stops it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-wav-'));
  const [a, b] = await connectedPair();
  try {
    // 30 s at 44.1 kHz: read, decoded and resampled on the thread pool.
    const src = join(dir, 'long.wav');
    writeWav(src, sineWave(600, 44100, 30000), 44100);
    const p = a.play(src);
    a.stopPlayback();
    assert.deepEqual(await p, { stopped: true }, 'a play stopped while loading ends stopped');
    // And a play after the stop is not affected by it.
    const q = a.play(src);
    const heard = await waitForTone(b, 600);
    assert.ok(heard, 'the next play is heard');
    a.stopPlayback();
    assert.deepEqual(await q, { stopped: true });
  } finally {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function waitForTone(pc, hz) {
  for await (const frame of pc.audio({ sampleRate: 16000, batchMs: 200 })) {
    const f = detectTone(frame.samples, 16000);
    if (f !== null && Math.abs(f - hz) <= hz * 0.02) return true;
  }
  return false;
}
