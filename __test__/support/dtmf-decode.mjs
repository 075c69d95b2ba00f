// A small DTMF receiver for audio captured from a browser: Goertzel power at the eight
// DTMF frequencies over 25 ms windows every 10 ms, then Q.24-style debouncing (a digit
// needs >= 30 ms of steady key; it ends after >= 20 ms of anything else, so a single
// 10 ms glitch inside a tone is bridged but a real break shows up as a second digit).
const LOW = [697, 770, 852, 941];
const HIGH = [1209, 1336, 1477, 1633];
const KEYS = ['123A', '456B', '789C', '*0#D'];

function goertzel(x, start, n, freq, rate) {
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = x[start + i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const p = s1 * s1 + s2 * s2 - c * s1 * s2;
  return (2 * Math.sqrt(Math.max(p, 0))) / n; // amplitude of that sinusoid
}

/** The key (or null) of one window. */
function keyAt(x, start, n, rate) {
  let e = 0;
  for (let i = 0; i < n; i++) e += x[start + i] * x[start + i];
  const rms2 = e / n;
  if (rms2 < (100 / 32768) ** 2) return null; // below about -50 dBFS: silence
  const lows = LOW.map((f) => goertzel(x, start, n, f, rate));
  const highs = HIGH.map((f) => goertzel(x, start, n, f, rate));
  const li = lows.indexOf(Math.max(...lows));
  const hi = highs.indexOf(Math.max(...highs));
  const [a, b] = [lows[li], highs[hi]];
  // Most of the power in the two tones, neither more than ~14 dB below the other, and each
  // clearly above its neighbours in the group.
  const tonal = (a * a + b * b) / 2 > 0.6 * rms2;
  const twist = a > 0.2 * b && b > 0.2 * a;
  const lows2 = lows.filter((_, i) => i !== li);
  const highs2 = highs.filter((_, i) => i !== hi);
  const distinct = a > 2 * Math.max(...lows2) && b > 2 * Math.max(...highs2);
  return tonal && twist && distinct ? KEYS[li][hi] : null;
}

/**
 * Decode DTMF digits from mono samples (Float32Array or Int16Array, any scale).
 * @returns {{ digits: string, frames: string, segments: Array<{ key: string, startMs: number, ms: number }> }}
 */
export function decodeDtmf(samples, rate) {
  const x = Float64Array.from(samples, (v) => (samples instanceof Int16Array ? v / 32768 : v));
  const n = Math.round(rate * 0.025);
  const hop = Math.round(rate * 0.01);
  const keys = [];
  for (let s = 0; s + n <= x.length; s += hop) keys.push(keyAt(x, s, n, rate));
  const frames = keys.map((k) => k ?? '.').join('');
  const digits = [];
  const segments = [];
  let current = null; // the digit being held
  let candidate = null;
  let run = 0;
  let other = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === candidate) run++;
    else ((candidate = k), (run = 1));
    if (current && k === current.key) {
      other = 0;
      current.last = i;
      continue;
    }
    other++;
    if (current && other >= 2) {
      segments.push({ key: current.key, startMs: current.first * 10, ms: (current.last - current.first + 1) * 10 + 15 });
      current = null;
    }
    if (!current && k && candidate === k && run >= 2) {
      current = { key: k, first: i - run + 1, last: i };
      digits.push(k);
      other = 0;
    }
  }
  if (current) segments.push({ key: current.key, startMs: current.first * 10, ms: (current.last - current.first + 1) * 10 + 15 });
  return { digits: digits.join(''), frames, segments };
}
