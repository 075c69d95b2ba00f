//! Single-tone tracking on 20 ms frames: what `waitForTone` and the
//! voicemail `beep` event are built on, sans-IO.
//!
//! A frame holds a tone when the five FFT bins around its spectral peak
//! carry at least 80 % of the energy between 60 and 3970 Hz (a pure tone
//! does; speech, noise and dual-tone DTMF do not). Its frequency is the
//! peak interpolated between bins (parabola through the log powers).

use super::spectrum::{Spectrum, BIN_HZ, FRAME};

/// Share of the frame's energy around the peak for a tone.
const MIN_PURITY: f32 = 0.8;
/// Quietest tone frame: RMS about -50 dBFS.
const MIN_RMS: f32 = 100.0;
/// Hann window sum of squares: power → variance scaling (see spectrum).
const WINDOW_POWER: f32 = 60.0;
/// Beep range (voicemail tones are 400-2000 Hz, most at 1000 Hz).
const BEEP_MIN_HZ: f32 = 380.0;
const BEEP_MAX_HZ: f32 = 2100.0;
/// A beep lasts at least this long.
pub const BEEP_MIN_MS: u64 = 120;
const FRAME_MS: u64 = 20;

/// The tone in one frame, if any: its frequency in Hz.
pub fn frame_tone(spectrum: &Spectrum, frame: &[i16]) -> Option<f32> {
    let p = &spectrum.power;
    let lo = 2;
    let hi = p.len() - 2;
    let total: f32 = p[lo..=hi].iter().sum();
    let ms = frame
        .iter()
        .map(|&s| f32::from(s) * f32::from(s))
        .sum::<f32>()
        / FRAME as f32;
    if ms < MIN_RMS * MIN_RMS || total <= 0.0 {
        return None;
    }
    let k = (lo + 1..hi).fold(lo + 1, |a, i| if p[i] > p[a] { i } else { a });
    let around: f32 = p[k - 2..=k + 2].iter().sum();
    if around < MIN_PURITY * total || around / WINDOW_POWER < 0.5 * ms * MIN_PURITY {
        return None;
    }
    let (l, c, r) = (
        p[k - 1].max(1e-9).ln(),
        p[k].max(1e-9).ln(),
        p[k + 1].max(1e-9).ln(),
    );
    let den = l - 2.0 * c + r;
    let d = if den.abs() > 1e-9 {
        (0.5 * (l - r) / den).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some((k as f32 + d) * BIN_HZ)
}

/// Tolerance of [`ToneWatch`]: ±2.5 % or ±12 Hz, whichever is wider.
pub fn tolerance_hz(hz: f32) -> f32 {
    (hz * 0.025).max(12.0)
}

/// Waits for a tone near `hz` lasting `min_ms`.
#[derive(Clone, Debug)]
pub struct ToneWatch {
    /// Caller's id.
    pub id: u64,
    hz: f32,
    min_frames: u32,
    run: u32,
    misses: u32,
    sum_hz: f32,
}

impl ToneWatch {
    /// Watch for `hz` for at least `min_ms` (rounded up to 20 ms frames, at least one).
    pub fn new(id: u64, hz: f32, min_ms: u32) -> Self {
        Self {
            id,
            hz,
            min_frames: min_ms.div_ceil(FRAME_MS as u32).max(1),
            run: 0,
            misses: 0,
            sum_hz: 0.0,
        }
    }

    /// One frame's tone; `Some(mean measured Hz)` once the tone lasted long enough.
    pub fn update(&mut self, tone: Option<f32>) -> Option<f32> {
        match tone {
            Some(f) if (f - self.hz).abs() <= tolerance_hz(self.hz) => {
                self.run += 1;
                self.misses = 0;
                self.sum_hz += f;
                (self.run >= self.min_frames).then(|| self.sum_hz / self.run as f32)
            }
            _ => {
                // One odd frame (a lost packet, a click) does not break a tone.
                self.misses += 1;
                if self.misses > 1 {
                    self.run = 0;
                    self.sum_hz = 0.0;
                }
                None
            }
        }
    }
}

/// Reports each steady tone in the beep range once, when it has lasted
/// [`BEEP_MIN_MS`].
#[derive(Clone, Debug, Default)]
pub struct BeepDetector {
    run_hz: f32,
    run: u32,
    reported: bool,
}

impl BeepDetector {
    /// One frame's tone; `Some(Hz)` when a beep is recognised.
    pub fn update(&mut self, tone: Option<f32>) -> Option<f32> {
        match tone {
            Some(f) if (BEEP_MIN_HZ..=BEEP_MAX_HZ).contains(&f) => {
                if self.run > 0 && (f - self.run_hz).abs() <= self.run_hz * 0.02 {
                    self.run += 1;
                } else {
                    self.run = 1;
                    self.run_hz = f;
                    self.reported = false;
                }
            }
            _ => {
                self.run = 0;
                self.reported = false;
                return None;
            }
        }
        if !self.reported && u64::from(self.run) * FRAME_MS >= BEEP_MIN_MS {
            self.reported = true;
            return Some(self.run_hz);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::sine;

    fn tones(samples: &[i16]) -> Vec<Option<f32>> {
        let mut s = Spectrum::new();
        samples
            .chunks_exact(FRAME)
            .map(|f| {
                s.analyse(f);
                frame_tone(&s, f)
            })
            .collect()
    }

    #[test]
    fn measures_pure_tones() {
        for f in [350.0f32, 440.0, 1000.0, 1400.0, 2100.0, 3300.0] {
            for t in tones(&sine(f, 8000, 1600, 6000)) {
                let t = t.expect("tone");
                assert!((t - f).abs() < f * 0.01, "{f}: {t}");
            }
        }
    }

    #[test]
    fn noise_silence_and_dual_tones_are_not_tones() {
        let n = crate::listen::inband_dtmf::tests::noise(8000, 5000.0, 11);
        assert!(tones(&n).iter().all(Option::is_none));
        assert!(tones(&[0; 1600]).iter().all(Option::is_none));
        let d = crate::listen::inband_dtmf::synthesize('5', 200, 5000.0, 0.0, 0.0);
        assert!(tones(&d).iter().all(Option::is_none));
        assert!(
            tones(&sine(1000.0, 8000, 1600, 50))
                .iter()
                .all(Option::is_none),
            "too quiet"
        );
    }

    #[test]
    fn watch_needs_the_frequency_and_the_duration() {
        let run = |hz: f32, watch: f32, ms: usize, min_ms: u32| {
            let mut w = ToneWatch::new(1, watch, min_ms);
            tones(&sine(hz, 8000, ms * 8, 6000))
                .into_iter()
                .find_map(|t| w.update(t))
        };
        assert!(run(1000.0, 1000.0, 300, 200).is_some());
        assert!(run(1020.0, 1000.0, 300, 200).is_some(), "2 % off");
        assert!(run(1040.0, 1000.0, 300, 200).is_none(), "4 % off");
        assert!(run(800.0, 1000.0, 1000, 200).is_none());
        assert!(run(1000.0, 1000.0, 100, 200).is_none(), "too short");
    }

    #[test]
    fn beeps_once_per_tone() {
        let mut b = BeepDetector::default();
        let mut a = sine(1000.0, 8000, 4000, 6000);
        a.extend(vec![0; 800]);
        a.extend(sine(440.0, 8000, 1600, 6000));
        a.extend(sine(2500.0, 8000, 4000, 6000)); // out of range
        a.extend(sine(1000.0, 8000, 640, 6000)); // 80 ms: too short
        let got: Vec<f32> = tones(&a).into_iter().filter_map(|t| b.update(t)).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!((got[0] - 1000.0).abs() < 10.0 && (got[1] - 440.0).abs() < 5.0);
    }
}
