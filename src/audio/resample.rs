//! Sample-rate conversion between 8, 16 and 48 kHz.
//!
//! The engine mixes/plays at one rate while codecs run at theirs (G.711 at
//! 8 kHz, Opus at 48 kHz), so frames need converting. All supported ratios
//! are integers (1:2, 1:3, 1:6 and their inverses), so a polyphase
//! Kaiser-windowed-sinc FIR is enough: 48 taps per phase, ~80 dB stop-band
//! rejection starting at the lower rate's Nyquist frequency, so
//! downsampling does not alias. The filter state is kept across calls, so
//! consecutive frames join without clicks and frame-by-frame processing is
//! bit-identical to one-shot processing.

/// Taps per polyphase branch (i.e. filter length in low-rate samples).
const TAPS_PER_PHASE: usize = 48;
/// Kaiser window beta (~80 dB stop-band attenuation).
const KAISER_BETA: f64 = 8.0;
/// Attenuation corresponding to [`KAISER_BETA`], for the transition width.
const ATTEN_DB: f64 = 80.0;

/// Errors from [`Resampler::new`].
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ResampleError {
    /// Only 8000, 16000 and 48000 Hz are supported.
    #[error("unsupported resampling {from} Hz -> {to} Hz (supported: 8000, 16000, 48000)")]
    UnsupportedRate {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
    },
}

#[derive(Clone, Debug)]
enum Mode {
    Identity,
    Up {
        factor: usize,
        /// `phases[j]` = `h[j + i * factor] * factor` for i from
        /// `TAPS_PER_PHASE - 1` down to 0 (reversed for a forward dot product).
        phases: Vec<Vec<f32>>,
        /// Ring of the last `TAPS_PER_PHASE` inputs, stored twice over.
        hist: Vec<f32>,
        /// Where the next input goes.
        pos: usize,
    },
    Down {
        factor: usize,
        taps: Vec<f32>,
        /// Pending input: last `taps.len() - 1` samples plus new input.
        buf: Vec<f32>,
        /// Index in `buf` of the newest sample of the next output's window.
        next: usize,
    },
}

/// Stateful mono resampler between 8000, 16000 and 48000 Hz.
#[derive(Clone, Debug)]
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    mode: Mode,
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-12 {
            break;
        }
    }
    sum
}

/// Low-pass FIR at `high_hz` for conversion to/from `low_hz`, unity DC gain.
fn design(high_hz: u32, low_hz: u32, len: usize) -> Vec<f32> {
    let fs = f64::from(high_hz);
    let transition = (ATTEN_DB - 7.95) * fs / (14.36 * len as f64);
    let fc = (f64::from(low_hz) / 2.0 - transition / 2.0) / fs; // cycles/sample
    let mid = (len as f64 - 1.0) / 2.0;
    let i0b = bessel_i0(KAISER_BETA);
    let mut h: Vec<f64> = (0..len)
        .map(|n| {
            let t = n as f64 - mid;
            let x = 2.0 * fc * t;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = t / mid;
            let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0b;
            2.0 * fc * sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v /= sum;
    }
    h.into_iter().map(|v| v as f32).collect()
}

/// Dot product with eight independent partial sums: f32 addition is not
/// associative, so a plain `zip().sum()` stays scalar; this form lets LLVM
/// use SIMD (the FIR was half of all CPU at 100 calls before).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

fn to_i16(v: f32) -> i16 {
    v.round().clamp(-32768.0, 32767.0) as i16
}

impl Resampler {
    /// Creates a resampler; both rates must be 8000, 16000 or 48000.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let ok = |r: u32| matches!(r, 8000 | 16000 | 48000);
        if !ok(from_hz) || !ok(to_hz) {
            return Err(ResampleError::UnsupportedRate {
                from: from_hz,
                to: to_hz,
            });
        }
        let mode = if from_hz == to_hz {
            Mode::Identity
        } else if to_hz > from_hz {
            let factor = (to_hz / from_hz) as usize;
            let h = design(to_hz, from_hz, TAPS_PER_PHASE * factor);
            // Stored reversed so each output is a forward dot product with
            // the history (oldest first).
            let phases = (0..factor)
                .map(|j| {
                    (0..TAPS_PER_PHASE)
                        .rev()
                        .map(|i| h[j + i * factor] * factor as f32)
                        .collect()
                })
                .collect();
            Mode::Up {
                factor,
                phases,
                hist: vec![0.0; 2 * TAPS_PER_PHASE],
                pos: 0,
            }
        } else {
            let factor = (from_hz / to_hz) as usize;
            // Reversed for a forward dot product with the window (the
            // Kaiser-windowed sinc is symmetric, but keep it exact anyway).
            let mut taps = design(from_hz, to_hz, TAPS_PER_PHASE * factor);
            taps.reverse();
            let n = taps.len();
            Mode::Down {
                factor,
                taps,
                buf: vec![0.0; n - 1],
                next: n - 1,
            }
        };
        Ok(Self {
            from_hz,
            to_hz,
            mode,
        })
    }

    /// Input sample rate.
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Output sample rate.
    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Filter group delay in output samples (approximate for upsampling).
    pub fn delay_samples(&self) -> usize {
        match &self.mode {
            Mode::Identity => 0,
            Mode::Up { factor, .. } => TAPS_PER_PHASE * factor / 2,
            Mode::Down { .. } => TAPS_PER_PHASE / 2,
        }
    }

    /// Clears the filter history (e.g. after a stream discontinuity).
    pub fn reset(&mut self) {
        match &mut self.mode {
            Mode::Identity => {}
            Mode::Up { hist, pos, .. } => {
                hist.fill(0.0);
                *pos = 0;
            }
            Mode::Down {
                taps, buf, next, ..
            } => {
                buf.clear();
                buf.resize(taps.len() - 1, 0.0);
                *next = taps.len() - 1;
            }
        }
    }

    /// Resamples `input`, appending to `out`.
    ///
    /// Appends exactly `input.len() * to / from` samples whenever the input
    /// length is a multiple of the down-sampling factor (any multiple of
    /// 10 ms qualifies); otherwise the remainder is carried over, so the
    /// running total stays exact.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        match &mut self.mode {
            Mode::Identity => out.extend_from_slice(input),
            Mode::Up {
                factor,
                phases,
                hist,
                pos,
            } => {
                // `hist` is a ring stored twice over (hist[i] == hist[i + T]),
                // so the last T samples are always one contiguous slice.
                let t = TAPS_PER_PHASE;
                out.reserve(input.len() * *factor);
                for &s in input {
                    let v = f32::from(s);
                    hist[*pos] = v;
                    hist[*pos + t] = v;
                    let window = &hist[*pos + 1..*pos + 1 + t];
                    for phase in phases.iter() {
                        out.push(to_i16(dot(phase, window)));
                    }
                    *pos = (*pos + 1) % t;
                }
            }
            Mode::Down {
                factor,
                taps,
                buf,
                next,
            } => {
                buf.extend(input.iter().map(|&s| f32::from(s)));
                let n = taps.len();
                while *next < buf.len() {
                    let window = &buf[*next + 1 - n..=*next];
                    out.push(to_i16(dot(taps, window)));
                    *next += *factor;
                }
                let drain = buf.len() - (n - 1);
                buf.drain(..drain);
                *next -= drain;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone;

    fn run(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = Vec::new();
        r.process(input, &mut out);
        out
    }

    #[test]
    fn rejects_other_rates() {
        assert!(Resampler::new(44100, 48000).is_err());
        assert!(Resampler::new(8000, 0).is_err());
        assert_eq!(
            Resampler::new(8000, 22050).unwrap_err(),
            ResampleError::UnsupportedRate {
                from: 8000,
                to: 22050
            }
        );
    }

    #[test]
    fn all_pairs_lengths_and_tone() {
        for from in [8000u32, 16000, 48000] {
            for to in [8000u32, 16000, 48000] {
                let input = tone::sine(1000.0, from, from as usize, 10000);
                let mut r = Resampler::new(from, to).unwrap();
                let mut out = Vec::new();
                for frame in input.chunks(from as usize / 50) {
                    let before = out.len();
                    r.process(frame, &mut out);
                    assert_eq!(
                        out.len() - before,
                        frame.len() * to as usize / from as usize
                    );
                }
                let tail = &out[out.len() / 4..];
                let f = tone::dominant_frequency(tail, to).unwrap();
                assert!((f - 1000.0).abs() < 5.0, "{from}->{to}: {f}");
                let level = tone::rms(tail);
                assert!((level - 7071.0).abs() < 707.0, "{from}->{to}: rms {level}");
            }
        }
    }

    #[test]
    fn downsampling_rejects_aliases() {
        // 5 kHz at 48 kHz would alias to 3 kHz at 8 kHz.
        let input = tone::sine(5000.0, 48000, 48000, 10000);
        let out = run(48000, 8000, &input);
        assert!(tone::rms(&out[100..]) < 30.0, "{}", tone::rms(&out[100..]));
        // 10 kHz at 48 kHz would alias to 6 kHz at 16 kHz.
        let input = tone::sine(10000.0, 48000, 48000, 10000);
        let out = run(48000, 16000, &input);
        assert!(tone::rms(&out[100..]) < 30.0);
        // 3 kHz survives 48k -> 8k.
        let input = tone::sine(3000.0, 48000, 48000, 10000);
        let out = run(48000, 8000, &input);
        assert!(tone::rms(&out[100..]) > 6000.0);
    }

    #[test]
    fn upsampling_suppresses_images() {
        let input = tone::sine(1000.0, 8000, 8000, 10000);
        let out = run(8000, 48000, &input);
        let tail = &out[1000..];
        // Images of 1 kHz at 7 kHz and 9 kHz.
        let main = tone::goertzel_power(tail, 48000, 1000.0);
        let img =
            tone::goertzel_power(tail, 48000, 7000.0) + tone::goertzel_power(tail, 48000, 9000.0);
        assert!(img < main * 1e-6, "main {main} img {img}");
    }

    #[test]
    fn frame_by_frame_equals_one_shot() {
        for (from, to) in [
            (48000u32, 8000u32),
            (8000, 48000),
            (16000, 48000),
            (48000, 16000),
            (8000, 16000),
        ] {
            let input = tone::sine(700.0, from, from as usize / 2, 12000);
            let one = run(from, to, &input);
            let mut r = Resampler::new(from, to).unwrap();
            let mut pieces = Vec::new();
            for frame in input.chunks(from as usize / 100) {
                r.process(frame, &mut pieces);
            }
            assert_eq!(one, pieces, "{from}->{to}");
            // Odd chunk sizes keep the running total exact.
            let mut r = Resampler::new(from, to).unwrap();
            let mut odd = Vec::new();
            for frame in input.chunks(7) {
                r.process(frame, &mut odd);
            }
            assert_eq!(one, odd, "{from}->{to} odd chunks");
        }
    }

    #[test]
    fn identity_and_reset() {
        let mut r = Resampler::new(16000, 16000).unwrap();
        let mut out = vec![];
        r.process(&[1, 2, 3], &mut out);
        assert_eq!(out, [1, 2, 3]);
        let mut r = Resampler::new(48000, 8000).unwrap();
        let input = tone::sine(440.0, 48000, 960, 20000);
        let mut a = Vec::new();
        r.process(&input, &mut a);
        r.reset();
        let mut b = Vec::new();
        r.process(&input, &mut b);
        assert_eq!(a, b);
        assert_eq!(r.from_hz(), 48000);
        assert_eq!(r.to_hz(), 8000);
        // Full-scale input does not overflow.
        let mut r = Resampler::new(8000, 48000).unwrap();
        let sq: Vec<i16> = (0..800)
            .map(|i| if (i / 4) % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let mut o = Vec::new();
        r.process(&sq, &mut o);
        assert_eq!(o.len(), 4800);
    }
}
