//! Answering-machine detection from the greeting's speech pattern, sans-IO.
//!
//! A person answers with a short "hello?" and waits; a machine plays a long
//! greeting, often ending in a beep. Fed the voice activity state once per
//! 20 ms frame (and any beep), [`Amd`] decides:
//!
//! - `machine` as soon as a beep is heard, or the greeting's speech (VAD
//!   active time, pauses under 300 ms bridged) reaches 2.5 s;
//! - `human` once speech of less than that is followed by 800 ms of
//!   silence after the VAD's end of speech (about 1.1 s after the last word);
//! - `unknown` when the timeout comes first (nobody spoke, or kept talking
//!   in bursts without a decision).

/// What [`Amd`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmdVerdict {
    /// A person answered.
    Human,
    /// An answering machine or voicemail answered.
    Machine,
    /// No decision before the timeout.
    Unknown,
}

impl AmdVerdict {
    /// `human`, `machine` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            AmdVerdict::Human => "human",
            AmdVerdict::Machine => "machine",
            AmdVerdict::Unknown => "unknown",
        }
    }
}

/// Speech (VAD active time) that makes a greeting a machine's.
pub const MACHINE_SPEECH_MS: u64 = 2500;
/// Silence after the end of speech that makes a short greeting a person's.
pub const HUMAN_SILENCE_MS: u64 = 800;

/// One detection in progress.
#[derive(Clone, Debug)]
pub struct Amd {
    /// Caller's id.
    pub id: u64,
    timeout_ms: u64,
    elapsed_ms: u64,
    speech_ms: u64,
    silence_ms: u64,
}

impl Amd {
    /// Starts a detection that gives up after `timeout_ms`.
    pub fn new(id: u64, timeout_ms: u64) -> Self {
        Self {
            id,
            timeout_ms,
            elapsed_ms: 0,
            speech_ms: 0,
            silence_ms: 0,
        }
    }

    /// One frame of `frame_ms`: `speaking` is the VAD state after it.
    /// Returns the verdict and the time it took, once decided.
    pub fn update(
        &mut self,
        frame_ms: u64,
        speaking: bool,
        beep: bool,
    ) -> Option<(AmdVerdict, u64)> {
        self.elapsed_ms += frame_ms;
        let verdict = if beep {
            Some(AmdVerdict::Machine)
        } else {
            if speaking {
                self.speech_ms += frame_ms;
                self.silence_ms = 0;
            } else {
                self.silence_ms += frame_ms;
            }
            if self.speech_ms >= MACHINE_SPEECH_MS {
                Some(AmdVerdict::Machine)
            } else if self.speech_ms > 0 && self.silence_ms >= HUMAN_SILENCE_MS {
                Some(AmdVerdict::Human)
            } else if self.elapsed_ms >= self.timeout_ms {
                Some(AmdVerdict::Unknown)
            } else {
                None
            }
        };
        verdict.map(|v| (v, self.elapsed_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(pattern: &[(bool, u64)], timeout: u64) -> Option<(AmdVerdict, u64)> {
        let mut a = Amd::new(1, timeout);
        for &(speaking, ms) in pattern {
            for _ in 0..ms / 20 {
                if let Some(v) = a.update(20, speaking, false) {
                    return Some(v);
                }
            }
        }
        None
    }

    #[test]
    fn patterns() {
        // "hello?" then silence: human, decided 800 ms after the VAD's end.
        assert_eq!(
            decide(&[(false, 400), (true, 900), (false, 3000)], 5000),
            Some((AmdVerdict::Human, 2100))
        );
        // A long greeting: machine once 2.5 s of speech were heard.
        assert_eq!(
            decide(&[(false, 300), (true, 4000)], 5000),
            Some((AmdVerdict::Machine, 2800))
        );
        // Phrases with short pauses still add up.
        assert_eq!(
            decide(
                &[(true, 1200), (false, 600), (true, 1400), (false, 200)],
                5000
            ),
            Some((AmdVerdict::Machine, 3100))
        );
        // Nobody speaks: unknown at the timeout.
        assert_eq!(
            decide(&[(false, 6000)], 3000),
            Some((AmdVerdict::Unknown, 3000))
        );
        // A beep decides at once.
        let mut a = Amd::new(1, 5000);
        assert_eq!(a.update(20, true, true), Some((AmdVerdict::Machine, 20)));
        assert_eq!(AmdVerdict::Human.as_str(), "human");
    }
}
