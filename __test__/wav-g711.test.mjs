// Telephony prompts: mu-law (format 7) and A-law (format 6) WAVs, as sox writes them, play
// into a call and the far end hears their tone; recording to mu-law / A-law on request
// writes a file that reads back with the tone. Errors name the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectedPair, record } from './helpers.mjs';
import { readWav, detectTone, sineWave } from '../dist/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

for (const [label, file, tag] of [
  ['mu-law', 'sox-800hz-mulaw.wav', 7],
  ['A-law', 'sox-800hz-alaw.wav', 6],
]) {
  test(`a ${label} prompt (format ${tag}, written by sox) plays into a call; the far end hears 800 Hz`, async () => {
    const path = join(FIXTURES, file);
    assert.equal(readFileSync(path).readUInt16LE(20), tag, 'the fixture really is G.711');
    const [a, b] = await connectedPair({ codecs: ['pcmu'] }, { codecs: ['pcmu'] });
    try {
      const heard = record(b, 600, 8000); // while the 1 s prompt plays
      const played = a.play(path);
      const pcm = await heard;
      assert.deepEqual(await played, { stopped: false });
      const f = detectTone(pcm.subarray(pcm.length / 2), 8000);
      assert.ok(f !== null && Math.abs(f - 800) <= 16, `B heard ${f} Hz, want 800`);
    } finally {
      a.close();
      b.close();
    }
  });
}

test("recording to mu-law and A-law on request: the file is G.711 and reads back with the far end's tone", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-g711-'));
  const [a, b] = await connectedPair({ codecs: ['opus'] }, { codecs: ['opus'] });
  try {
    for (const [format, tag] of [
      ['pcmu', 7],
      ['pcma', 6],
    ]) {
      const out = join(dir, `rec-${format}.wav`);
      await b.startRecording(out, { format });
      const r = await a.play({ samples: sineWave(600, 16000, 800), sampleRate: 16000 });
      assert.equal(r.stopped, false);
      await new Promise((res) => setTimeout(res, 300)); // drain the jitter buffer
      await b.stopRecording();
      const bytes = readFileSync(out);
      assert.equal(bytes.readUInt16LE(20), tag, `${format}: format tag`);
      assert.equal(bytes.readUInt32LE(24), 8000, `${format}: 8 kHz by default`);
      assert.equal(bytes.readUInt16LE(34), 8, `${format}: 8 bits a sample`);
      const rec = readWav(out);
      assert.equal(rec.sampleRate, 8000);
      assert.ok(rec.samples.length >= 8000 * 0.8, `${format}: ${rec.samples.length} samples`);
      const f = detectTone(rec.samples, 8000);
      assert.ok(f !== null && Math.abs(f - 600) <= 12, `${format}: recorded ${f} Hz, want 600`);
    }
    await assert.rejects(b.startRecording(join(dir, 'x.wav'), { format: 'gsm' }), { code: 'ERR_INVALID_ARG' });
    const missing = join(dir, 'no-such-dir', 'rec.wav');
    await assert.rejects(b.startRecording(missing, { format: 'pcmu' }), (e) => e.code === 'ERR_WAV' && e.message.includes(missing));
    const broken = join(dir, 'broken.wav');
    writeFileSync(broken, Buffer.from('RIFF\0\0\0\0WAVEfmt '));
    await assert.rejects(a.play(broken), (e) => e.code === 'ERR_WAV' && e.message.includes(broken));
  } finally {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
