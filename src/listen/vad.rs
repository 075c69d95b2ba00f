//! Voice activity detection on 20 ms frames, sans-IO.
//!
//! Features per frame: the signal-to-noise ratio in eight bands between
//! 200 and 3400 Hz against a per-band noise floor that follows stationary
//! noise (fast down, slowly up while speech is absent, and very slowly up
//! during speech so a step in the noise level is learnt within seconds),
//! plus spectral flatness, which tells a noise burst (flat) from voiced
//! speech (peaky). A frame is speech-like when its mean band SNR is high
//! and the spectrum is not flat (or the SNR is very high). Speech *starts*
//! after 3 speech-like frames out of 5 (60-100 ms) and *ends* after a
//! hangover of 300 ms without one, so pauses between words do not split
//! an utterance.

use super::spectrum::{Spectrum, BIN_HZ, FRAME};

/// Milliseconds per frame.
pub const FRAME_MS: u64 = 20;
const BAND_EDGES_HZ: [f32; 9] = [
    200.0, 400.0, 600.0, 850.0, 1150.0, 1500.0, 2000.0, 2700.0, 3400.0,
];
const BANDS: usize = BAND_EDGES_HZ.len() - 1;
/// Lowest noise floor per band (dB, of the per-bin power scaled to sample
/// variance): about -64 dBFS. Below this nothing counts as speech.
const FLOOR_DB: f32 = 26.0;
/// Mean band SNR (dB) of a speech-like frame.
const SNR_DB: f32 = 5.0;
/// Above this mean band SNR a frame is speech-like whatever its flatness.
const LOUD_SNR_DB: f32 = 14.0;
/// Spectral flatness (dB) below which a frame is peaky (voiced).
const FLATNESS_DB: f32 = -5.0;
/// Frames of the onset window, and how many must be speech-like.
const ONSET_WINDOW: u32 = 5;
const ONSET_FRAMES: u32 = 3;
/// Frames without speech that end an utterance (300 ms).
const HANGOVER_FRAMES: u32 = 15;
/// Hann window power sum (Σw² for a 160-point periodic Hann = 60).
const WINDOW_POWER: f32 = 60.0;

/// A change of the speech state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VadChange {
    /// Speech started at `at_ms` (the first speech-like frame of the onset).
    Start {
        /// Stream time of the start.
        at_ms: u64,
    },
    /// Speech ended at `at_ms` (the end of the last speech-like frame).
    End {
        /// Stream time of the end.
        at_ms: u64,
        /// Length of the utterance.
        duration_ms: u64,
    },
}

/// The detector; feed it one analysed frame at a time.
pub struct Vad {
    noise_db: Option<[f32; BANDS]>,
    band_bins: [(usize, usize); BANDS],
    /// Recent speech-like flags, newest in bit 0.
    recent: u32,
    active: bool,
    started_at: u64,
    last_speech_end: u64,
    since_speech: u32,
    /// Time at the end of the last frame.
    now_ms: u64,
    last_raw: bool,
}

impl Default for Vad {
    fn default() -> Self {
        Self::new()
    }
}

impl Vad {
    /// A detector at stream time 0 with no noise estimate yet.
    pub fn new() -> Self {
        let mut band_bins = [(0, 0); BANDS];
        for (b, bins) in band_bins.iter_mut().enumerate() {
            let lo = (BAND_EDGES_HZ[b] / BIN_HZ).ceil() as usize;
            let hi = ((BAND_EDGES_HZ[b + 1] / BIN_HZ).ceil() as usize).max(lo + 1);
            *bins = (lo, hi);
        }
        Self {
            noise_db: None,
            band_bins,
            recent: 0,
            active: false,
            started_at: 0,
            last_speech_end: 0,
            since_speech: 0,
            now_ms: 0,
            last_raw: false,
        }
    }

    /// True while an utterance is in progress (hangover included).
    pub fn active(&self) -> bool {
        self.active
    }

    /// Whether the last frame itself looked like speech.
    pub fn last_frame_speech_like(&self) -> bool {
        self.last_raw
    }

    /// Stream time at the end of the last frame.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Takes the spectrum of the next [`FRAME`]-sample frame.
    pub fn update(&mut self, spectrum: &Spectrum) -> Option<VadChange> {
        let frame_start = self.now_ms;
        self.now_ms += FRAME_MS;
        let p = &spectrum.power;
        let mut bands = [0.0f32; BANDS];
        for (b, &(lo, hi)) in self.band_bins.iter().enumerate() {
            let mean = p[lo..hi].iter().sum::<f32>() / (hi - lo) as f32 / WINDOW_POWER;
            bands[b] = 10.0 * (mean + 1e-3).log10();
        }
        let (lo, hi) = (self.band_bins[0].0, self.band_bins[BANDS - 1].1);
        let n = (hi - lo) as f32;
        let arith = p[lo..hi].iter().sum::<f32>() / n + 1e-6;
        let geo = (p[lo..hi].iter().map(|v| (v + 1e-6).ln()).sum::<f32>() / n).exp();
        let flatness_db = 10.0 * (geo / arith).log10();

        let noise = self.noise_db.get_or_insert(bands.map(|e| e.max(FLOOR_DB)));
        let snr = bands
            .iter()
            .zip(noise.iter())
            .map(|(e, n)| (e - n).max(0.0))
            .sum::<f32>()
            / BANDS as f32;
        let raw = snr > LOUD_SNR_DB || (snr > SNR_DB && flatness_db < FLATNESS_DB);
        for (e, n) in bands.iter().zip(noise.iter_mut()) {
            if *e < *n {
                *n += 0.5 * (e - *n);
            } else if !raw {
                *n += (0.1 * (e - *n)).min(1.0);
            } else {
                *n += 0.02; // ~1 dB/s: a louder noise floor is learnt even under speech
            }
            *n = n.max(FLOOR_DB);
        }

        self.last_raw = raw;
        self.recent = ((self.recent << 1) | u32::from(raw)) & ((1 << ONSET_WINDOW) - 1);
        if raw {
            self.since_speech = 0;
            self.last_speech_end = self.now_ms;
        } else {
            self.since_speech += 1;
        }
        if !self.active && self.recent.count_ones() >= ONSET_FRAMES {
            self.active = true;
            // The oldest speech-like frame still in the onset window.
            let oldest = (0..ONSET_WINDOW)
                .rev()
                .find(|i| self.recent & (1 << i) != 0)
                .unwrap_or(0);
            self.started_at = frame_start.saturating_sub(u64::from(oldest) * FRAME_MS);
            return Some(VadChange::Start {
                at_ms: self.started_at,
            });
        }
        if self.active && self.since_speech >= HANGOVER_FRAMES {
            self.active = false;
            return Some(VadChange::End {
                at_ms: self.last_speech_end,
                duration_ms: self.last_speech_end - self.started_at,
            });
        }
        None
    }
}

/// Frames of `samples` (8 kHz) through a fresh VAD: the speech state after
/// each frame. For measurements and tests.
pub fn run(samples: &[i16]) -> (Vec<bool>, Vec<VadChange>) {
    let mut s = Spectrum::new();
    let mut v = Vad::new();
    let mut states = Vec::new();
    let mut changes = Vec::new();
    for f in samples.chunks_exact(FRAME) {
        s.analyse(f);
        changes.extend(v.update(&s));
        states.push(v.active());
    }
    (states, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::inband_dtmf::tests::noise;

    /// A crude voiced sound: harmonics of `f0` with a formant-like tilt,
    /// amplitude-modulated at a syllable rate.
    fn vowelish(ms: usize, f0: f32, amp: f32) -> Vec<i16> {
        (0..ms * 8)
            .map(|n| {
                let t = n as f32 / 8000.0;
                let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
                let mut v = 0.0;
                for h in 1..20 {
                    let f = f0 * h as f32;
                    if f > 3500.0 {
                        break;
                    }
                    let g = 1.0 / (1.0 + ((f - 700.0) / 400.0).powi(2)) + 0.3 / h as f32;
                    v += g * (2.0 * std::f32::consts::PI * f * t).sin();
                }
                (amp * env * v).clamp(-32000.0, 32000.0) as i16
            })
            .collect()
    }

    #[test]
    fn silence_and_steady_noise_are_not_speech() {
        let (states, changes) = run(&vec![0; 16000]);
        assert!(states.iter().all(|s| !s) && changes.is_empty());
        let (states, _) = run(&noise(40000, 3000.0, 9));
        // Noise from the first frame is learnt, never speech.
        assert!(states.iter().all(|s| !s));
    }

    #[test]
    fn an_utterance_starts_and_ends_once() {
        let mut a = vec![0i16; 8000];
        a.extend(vowelish(800, 140.0, 1500.0));
        a.extend(vec![0i16; 8000]);
        let (_, changes) = run(&a);
        assert_eq!(changes.len(), 2, "{changes:?}");
        let VadChange::Start { at_ms } = changes[0] else {
            panic!()
        };
        assert!((980..=1080).contains(&at_ms), "start {at_ms}");
        let VadChange::End { at_ms, duration_ms } = changes[1] else {
            panic!()
        };
        assert!((1760..=1820).contains(&at_ms), "end {at_ms}");
        assert!((700..=840).contains(&duration_ms), "{duration_ms}");
    }

    #[test]
    fn speech_over_noise_and_a_noise_step() {
        let mut a = noise(16000, 1000.0, 4);
        let v = vowelish(1000, 200.0, 2000.0);
        let n2 = noise(v.len(), 1000.0, 5);
        a.extend(v.iter().zip(&n2).map(|(x, y)| x.saturating_add(*y)));
        a.extend(noise(16000, 1000.0, 6));
        let (_, changes) = run(&a);
        assert_eq!(changes.len(), 2, "{changes:?}");
        // A 10 dB step up in steady noise: at most a brief false start, then learnt.
        let mut b = noise(16000, 300.0, 1);
        b.extend(noise(40000, 1000.0, 2));
        let (states, _) = run(&b);
        assert!(states[states.len() - 100..].iter().all(|s| !s));
    }
}
