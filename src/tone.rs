//! Tone generation and analysis.
//!
//! Used by tests and the demo to produce test signals and to verify that audio
//! survived a trip through codecs, resamplers and the network: a phase
//! continuous sine generator, RMS, a Goertzel single-bin power estimate and a
//! dominant-frequency detector that is accurate to well under 0.5 % for pure
//! tones between 100 and 3500 Hz, also after G.711 or Opus coding.

use std::f64::consts::PI;

/// RMS level below which [`dominant_frequency`] reports silence.
pub const SILENCE_RMS: f32 = 30.0;

/// Longest stretch of audio (in seconds) that [`dominant_frequency`] analyses.
const MAX_WINDOW_S: f64 = 0.5;
/// Length of the short segments used for the coarse scan.
const COARSE_SEG_S: f64 = 0.05;

/// Root mean square of `samples` (0.0 for an empty slice).
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Power of `samples` at `freq` Hz (Goertzel algorithm, rectangular window).
///
/// Normalised as `|X(f)|² / N²`, so a sine of amplitude `A` exactly at `freq`
/// yields about `A² / 4`. Returns 0.0 for empty input or a zero sample rate.
pub fn goertzel_power(samples: &[i16], sample_rate: u32, freq: f32) -> f32 {
    if samples.is_empty() || sample_rate == 0 || !freq.is_finite() {
        return 0.0;
    }
    let n = samples.len() as f64;
    let w = 2.0 * PI * f64::from(freq) / f64::from(sample_rate);
    let p = goertzel_iter(samples.iter().map(|&s| f64::from(s)), w);
    (p / (n * n)) as f32
}

fn goertzel_iter(samples: impl Iterator<Item = f64>, w: f64) -> f64 {
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0)
}

fn hann(n: usize) -> Vec<f64> {
    if n < 2 {
        return vec![1.0; n];
    }
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / (n - 1) as f64).cos())
        .collect()
}

fn windowed_power(seg: &[f64], win: &[f64], w: f64) -> f64 {
    goertzel_iter(seg.iter().zip(win).map(|(x, h)| x * h), w)
}

/// Estimates the frequency (Hz) of the strongest tone in `samples`.
///
/// Returns `None` for silence (RMS below [`SILENCE_RMS`]), for fewer than
/// 20 ms of audio or a zero sample rate. Scans 50 Hz ..= min(4000, rate/2)
/// Hz. At most 0.5 s (the loudest stretch) is analysed, and audio above
/// 32 kHz is decimated first, so the cost is bounded for long inputs.
pub fn dominant_frequency(samples: &[i16], sample_rate: u32) -> Option<f32> {
    if sample_rate == 0 || samples.len() < (sample_rate as usize / 50).max(8) {
        return None;
    }
    // Decimate high rates by box averaging (null at the new sample rate).
    let k = if sample_rate >= 32_000 {
        (sample_rate / 16_000) as usize
    } else {
        1
    };
    let rate = f64::from(sample_rate) / k as f64;
    let x: Vec<f64> = samples
        .chunks_exact(k)
        .map(|c| c.iter().map(|&s| f64::from(s)).sum::<f64>() / k as f64)
        .collect();

    // Pick the loudest window of at most MAX_WINDOW_S.
    let win_len = x.len().min((rate * MAX_WINDOW_S) as usize);
    let step = ((rate * 0.1) as usize).max(1);
    let mut best_start = 0;
    let mut best_energy = -1.0;
    let mut start = 0;
    loop {
        let e: f64 = x[start..start + win_len].iter().map(|v| v * v).sum();
        if e > best_energy {
            best_energy = e;
            best_start = start;
        }
        if start + win_len >= x.len() {
            break;
        }
        start = (start + step).min(x.len() - win_len);
    }
    let x = &x[best_start..best_start + win_len];
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let x: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let level = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    if level < f64::from(SILENCE_RMS) {
        return None;
    }

    let f_lo = 50.0;
    let f_hi = 4000.0f64.min(rate / 2.0 - 20.0);
    if f_hi <= f_lo {
        return None;
    }

    // Coarse scan: average power over short Hann-windowed segments.
    let seg_len = ((rate * COARSE_SEG_S) as usize).min(x.len());
    let seg_win = hann(seg_len);
    let segs: Vec<&[f64]> = x.chunks_exact(seg_len).collect();
    let coarse_step = 10.0;
    let mut best_f = f_lo;
    let mut best_p = -1.0;
    let mut f = f_lo;
    while f <= f_hi {
        let w = 2.0 * PI * f / rate;
        let p: f64 = segs.iter().map(|s| windowed_power(s, &seg_win, w)).sum();
        if p > best_p {
            best_p = p;
            best_f = f;
        }
        f += coarse_step;
    }

    // Fine scan over the whole window around the coarse peak.
    let full_win = hann(x.len());
    let fine_step = 0.5;
    let span = 20.0;
    let lo = (best_f - span).max(f_lo - coarse_step);
    let hi = (best_f + span).min(rate / 2.0);
    let n_steps = ((hi - lo) / fine_step) as usize + 1;
    let powers: Vec<f64> = (0..n_steps)
        .map(|i| windowed_power(&x, &full_win, 2.0 * PI * (lo + i as f64 * fine_step) / rate))
        .collect();
    let (imax, _) = powers.iter().enumerate().fold(
        (0, -1.0),
        |acc, (i, &p)| if p > acc.1 { (i, p) } else { acc },
    );
    let mut freq = lo + imax as f64 * fine_step;
    if imax > 0 && imax + 1 < powers.len() {
        let l = (powers[imax - 1] + 1e-12).ln();
        let c = (powers[imax] + 1e-12).ln();
        let r = (powers[imax + 1] + 1e-12).ln();
        let denom = l - 2.0 * c + r;
        if denom.abs() > 1e-12 {
            let d = (0.5 * (l - r) / denom).clamp(-0.5, 0.5);
            freq += d * fine_step;
        }
    }
    freq.is_finite().then_some(freq as f32)
}

/// Phase-continuous sine generator: consecutive frames join seamlessly.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    freq_hz: f64,
    sample_rate: u32,
    amplitude: f64,
    phase: f64,
}

impl ToneGenerator {
    /// Creates a generator for `freq_hz` at `sample_rate` with peak
    /// `amplitude`. A zero sample rate produces silence.
    pub fn new(freq_hz: f32, sample_rate: u32, amplitude: i16) -> Self {
        Self {
            freq_hz: f64::from(freq_hz),
            sample_rate,
            amplitude: f64::from(amplitude),
            phase: 0.0,
        }
    }

    /// Changes the frequency, keeping the phase continuous.
    pub fn set_frequency(&mut self, freq_hz: f32) {
        self.freq_hz = f64::from(freq_hz);
    }

    /// Changes the peak amplitude.
    pub fn set_amplitude(&mut self, amplitude: i16) {
        self.amplitude = f64::from(amplitude);
    }

    /// Fills `out` with the next `out.len()` samples.
    pub fn next_frame(&mut self, out: &mut [i16]) {
        if self.sample_rate == 0 || !self.freq_hz.is_finite() {
            out.fill(0);
            return;
        }
        let inc = 2.0 * PI * self.freq_hz / f64::from(self.sample_rate);
        for s in out.iter_mut() {
            *s = (self.amplitude * self.phase.sin())
                .round()
                .clamp(-32768.0, 32767.0) as i16;
            self.phase = (self.phase + inc) % (2.0 * PI);
        }
    }
}

/// Returns `n` samples of a sine at `freq_hz`, starting at phase 0.
pub fn sine(freq_hz: f32, sample_rate: u32, n: usize, amplitude: i16) -> Vec<i16> {
    let mut v = vec![0; n];
    ToneGenerator::new(freq_hz, sample_rate, amplitude).next_frame(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_tones_within_half_percent() {
        for &rate in &[8000u32, 16000, 48000] {
            for &f in &[100.0f32, 440.0, 1000.0, 2222.0, 3000.0, 3500.0] {
                for &ms in &[200usize, 1000] {
                    let s = sine(f, rate, rate as usize * ms / 1000, 8000);
                    let d = dominant_frequency(&s, rate).unwrap();
                    assert!(
                        (d - f).abs() / f < 0.005,
                        "rate {rate} f {f} ms {ms} got {d}"
                    );
                }
            }
        }
    }

    #[test]
    fn detects_after_g711() {
        use crate::audio::g711;
        let s = sine(1000.0, 8000, 4000, 10000);
        let mut enc = Vec::new();
        g711::encode_ulaw(&s, &mut enc);
        let mut dec = Vec::new();
        g711::decode_ulaw(&enc, &mut dec);
        let d = dominant_frequency(&dec, 8000).unwrap();
        assert!((d - 1000.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn leading_silence_and_noise() {
        let mut s = vec![0i16; 48000];
        s.extend(sine(440.0, 48000, 24000, 3000));
        let d = dominant_frequency(&s, 48000).unwrap();
        assert!((d - 440.0).abs() < 2.2, "{d}");
    }

    #[test]
    fn silence_is_none() {
        assert_eq!(dominant_frequency(&vec![0; 8000], 8000), None);
        assert_eq!(dominant_frequency(&vec![5; 8000], 8000), None);
        assert_eq!(dominant_frequency(&[], 8000), None);
        assert_eq!(dominant_frequency(&[1000; 10], 0), None);
        assert_eq!(dominant_frequency(&[1000, -1000, 3], 8000), None);
    }

    #[test]
    fn rms_and_goertzel() {
        assert_eq!(rms(&[]), 0.0);
        let s = sine(1000.0, 8000, 8000, 10000);
        assert!((rms(&s) - 7071.0).abs() < 10.0);
        let p = goertzel_power(&s, 8000, 1000.0);
        assert!((p - 25e6).abs() < 0.5e6, "{p}");
        assert!(goertzel_power(&s, 8000, 1500.0) < 1000.0);
        assert_eq!(goertzel_power(&s, 0, 1000.0), 0.0);
    }

    #[test]
    fn generator_is_phase_continuous() {
        let whole = sine(440.0, 16000, 640, 12000);
        let mut g = ToneGenerator::new(440.0, 16000, 12000);
        let mut parts = vec![0i16; 640];
        for c in parts.chunks_mut(320) {
            g.next_frame(c);
        }
        for (a, b) in whole.iter().zip(&parts) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 1);
        }
        let mut z = [1i16; 4];
        ToneGenerator::new(440.0, 0, 100).next_frame(&mut z);
        assert_eq!(z, [0; 4]);
    }
}
