// G.722 and G.729 between two sipwire peers over real ICE/DTLS-SRTP on
// 127.0.0.1: an offer of only that codec is answered by a peer with the
// default codecs; tones cross both ways, and a 6 kHz tone crosses G.722
// (wideband) but not G.729 (narrowband); getStats names the codec with its RTP clock
// (8000 Hz for G.722 too, RFC 3551); DTMF uses telephone-event/8000; a WAV
// played on one side is recorded on the other with its tone and duration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectedPair, record, sendTone, toneOf, within } from './helpers.mjs';
import { readWav, writeWav, sineWave, detectTone, validateOffer } from '../dist/index.js';

const CODECS = [
  { codec: 'g722', pt: 9, mime: 'audio/G722', wideband: true },
  { codec: 'g729', pt: 18, mime: 'audio/G729', wideband: false },
];

/** Power of `samples` at `freq` (Goertzel), normalised like sipwire's tone::goertzel_power. */
function powerAt(samples, sampleRate, freq) {
  const w = (2 * Math.PI * freq) / sampleRate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (samples.length * samples.length);
}

for (const { codec, pt, mime, wideband } of CODECS) {
  const toneA = 1000;
  test(`${codec}: an offer of only ${codec} is answered by default codecs; tones cross both ways`, async () => {
    const [a, b] = await connectedPair({ codecs: [codec] }, {});
    try {
      const offer = b.remoteDescription.sdp;
      const answer = a.remoteDescription.sdp;
      for (const sdp of [offer, answer]) {
        assert.match(sdp, new RegExp(`^m=audio \\d+ \\S+ ${pt}( |\\r)`, 'm'), sdp);
        assert.match(sdp, new RegExp(`a=rtpmap:${pt} ${mime.slice(6)}/8000\\r\\n`), sdp);
        // RFC 4856: we send no Annex B, and say so.
        assert.equal(sdp.includes('a=fmtp:18 annexb=no\r\n'), codec === 'g729', sdp);
      }
      sendTone(a, toneA, 3000);
      sendTone(b, 440, 3000);
      const [heardByB, heardByA] = await Promise.all([record(b, 1000), record(a, 1000)]);
      const fB = toneOf(heardByB);
      const fA = toneOf(heardByA);
      assert.ok(within(fB, toneA, 0.02), `B heard ${fB} Hz, want ${toneA} ±2%`);
      assert.ok(within(fA, 440, 0.02), `A heard ${fA} Hz, want 440 ±2%`);
      // 6 kHz needs wideband audio: through an 8 kHz path it is filtered
      // out (or would fold to 2 kHz).
      a.stopPlayback();
      sendTone(a, 6000, 3000);
      const high = await record(b, 1000);
      const tail = high.subarray(high.length / 2);
      const [p6, p2] = [powerAt(tail, 16000, 6000), powerAt(tail, 16000, 2000)];
      if (wideband) assert.ok(p6 > 1e6 && p6 > 1000 * p2, `6 kHz power ${p6}, 2 kHz ${p2}`);
      else assert.ok(p6 < 1e4, `${codec} cannot carry 6 kHz, got power ${p6}`);
      for (const pc of [a, b]) {
        const stats = [...(await pc.getStats()).values()];
        const c = stats.find((s) => s.type === 'codec');
        assert.equal(c.mimeType, mime);
        assert.equal(c.clockRate, 8000);
        assert.equal(c.payloadType, pt);
        const inbound = stats.find((s) => s.type === 'inbound-rtp');
        assert.ok(inbound.packetsReceived > 50, `${inbound.packetsReceived} packets`);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  test(`${codec}: DTMF with telephone-event/8000`, async () => {
    const [a, b] = await connectedPair({ codecs: [codec] }, { codecs: [codec] });
    try {
      assert.match(a.remoteDescription.sdp, /telephone-event\/8000/);
      const got = [];
      const done = new Promise((resolve) => {
        b.addEventListener('dtmf', (ev) => {
          got.push(ev.digit);
          if (got.length === 6) resolve();
        });
      });
      await a.sendDtmf('159#*D', { duration: 100, interToneGap: 70 });
      await done;
      assert.equal(got.join(''), '159#*D');
    } finally {
      a.close();
      b.close();
    }
  });

  test(`${codec}: a WAV played on A is recorded on B with its tone and duration`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `sipwire-${codec}-`));
    const [a, b] = await connectedPair({ codecs: [codec] }, { codecs: [codec] });
    try {
      const src = join(dir, 'tone.wav');
      const out = join(dir, 'recorded.wav');
      writeWav(src, sineWave(800, 16000, 1000), 16000);
      await b.startRecording(out, { sampleRate: 16000 });
      const result = await a.play(src);
      assert.equal(result.stopped, false);
      await new Promise((r) => setTimeout(r, 300));
      await b.stopRecording();
      const rec = readWav(out);
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
}

test('validateOffer accepts a G.729-only trunk offer by default and refuses it when g729 is not allowed', () => {
  const sdp = [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0',
    'm=audio 4000 UDP/TLS/RTP/SAVPF 18 101', 'c=IN IP4 127.0.0.1',
    'a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 ' + Array(32).fill('AB').join(':'), 'a=setup:actpass',
    'a=mid:0', 'a=rtcp-mux', 'a=sendrecv', '',
  ].join('\r\n');
  assert.equal(validateOffer(sdp), null);
  const refused = validateOffer(sdp, ['opus', 'pcmu']);
  assert.equal(refused?.code, 'ERR_NO_COMMON_CODEC');
  assert.match(refused.message, /G729\/8000/);
});
