//! Listening to received audio: in-band DTMF, voice activity, tones, beeps
//! and answering-machine detection. Everything here is sans-IO and works on
//! 8 kHz PCM; the media pipeline feeds [`Listener`] the decoded audio on the
//! media thread, so nothing runs in JS per frame: only the results (a
//! digit, a speech start, a tone heard, a verdict) cross to JS as events.

pub mod amd;
pub mod inband_dtmf;
pub mod spectrum;
pub mod tone_tracker;
pub mod vad;

use std::collections::VecDeque;

use amd::{Amd, AmdVerdict};
use inband_dtmf::DtmfDetector;
use spectrum::{Spectrum, FRAME};
use tone_tracker::{BeepDetector, ToneWatch};
use vad::{Vad, VadChange};

/// Sample rate the detectors work at.
pub const RATE: u32 = 8000;

/// Something heard.
#[derive(Clone, Debug, PartialEq)]
pub enum ListenEvent {
    /// A DTMF digit detected in the audio (in-band).
    Dtmf(char),
    /// Speech started.
    SpeechStart,
    /// Speech ended after `duration_ms` (hangover excluded).
    SpeechEnd {
        /// Length of the utterance.
        duration_ms: u64,
    },
    /// A watched tone was heard for long enough.
    Tone {
        /// The watch's id.
        id: u64,
        /// Its measured frequency.
        hz: f32,
    },
    /// A voicemail-style beep (a steady 400-2000 Hz tone of 120 ms or more).
    Beep {
        /// Its frequency.
        hz: f32,
    },
    /// An answering-machine detection finished.
    Amd {
        /// The detection's id.
        id: u64,
        /// What it decided.
        verdict: AmdVerdict,
        /// How long after its start.
        after_ms: u64,
    },
}

/// Every detector of one call. In-band DTMF is on unless turned off; the
/// rest runs only while something wants it (speech or beep events asked
/// for, a tone watched, a detection running).
///
/// ```
/// use sipwire::listen::{Listener, ListenEvent};
/// let mut l = Listener::new();
/// l.watch_tone(7, 1000.0, 100);
/// let mut ev = Vec::new();
/// l.push(&sipwire::tone::sine(1000.0, 8000, 1600, 8000), &mut ev);
/// assert!(matches!(ev[0], ListenEvent::Tone { id: 7, .. }));
/// ```
pub struct Listener {
    dtmf: Option<DtmfDetector>,
    speech_events: bool,
    beep_events: bool,
    spectrum: Spectrum,
    vad: Option<Vad>,
    beep: BeepDetector,
    watches: Vec<ToneWatch>,
    amds: Vec<Amd>,
    frame: Vec<i16>,
    digits: Vec<char>,
}

impl Default for Listener {
    fn default() -> Self {
        Self::new()
    }
}

impl Listener {
    /// In-band DTMF on, everything else off.
    pub fn new() -> Self {
        Self {
            dtmf: Some(DtmfDetector::new()),
            speech_events: false,
            beep_events: false,
            spectrum: Spectrum::new(),
            vad: None,
            beep: BeepDetector::default(),
            watches: Vec::new(),
            amds: Vec::new(),
            frame: Vec::with_capacity(FRAME),
            digits: Vec::new(),
        }
    }

    /// Turn in-band DTMF detection on or off.
    pub fn set_inband_dtmf(&mut self, on: bool) {
        if on != self.dtmf.is_some() {
            self.dtmf = on.then(DtmfDetector::new);
        }
    }

    /// Report `SpeechStart` / `SpeechEnd`.
    pub fn set_speech_events(&mut self, on: bool) {
        self.speech_events = on;
    }

    /// Report `Beep`.
    pub fn set_beep_events(&mut self, on: bool) {
        self.beep_events = on;
    }

    /// Report `Tone { id }` once `hz` (±2.5 % or ±12 Hz) lasted `min_ms`.
    pub fn watch_tone(&mut self, id: u64, hz: f32, min_ms: u32) {
        self.watches.push(ToneWatch::new(id, hz, min_ms));
    }

    /// Start answering-machine detection `id`, giving up after `timeout_ms`.
    pub fn detect_answering_machine(&mut self, id: u64, timeout_ms: u64) {
        self.amds.push(Amd::new(id, timeout_ms));
    }

    /// Drop the tone watch or detection `id` (a JS-side timeout).
    pub fn cancel(&mut self, id: u64) {
        self.watches.retain(|w| w.id != id);
        self.amds.retain(|a| a.id != id);
    }

    /// Whether any detector wants audio at all.
    pub fn active(&self) -> bool {
        self.dtmf.is_some() || self.wants_frames()
    }

    fn wants_frames(&self) -> bool {
        self.speech_events || self.beep_events || !self.watches.is_empty() || !self.amds.is_empty()
    }

    /// Feed received audio at [`RATE`].
    pub fn push(&mut self, pcm: &[i16], out: &mut Vec<ListenEvent>) {
        if let Some(d) = self.dtmf.as_mut() {
            d.push(pcm, &mut self.digits);
            out.extend(self.digits.drain(..).map(ListenEvent::Dtmf));
        }
        if !self.wants_frames() {
            self.frame.clear();
            self.vad = None; // a later start learns the noise afresh
            return;
        }
        for &s in pcm {
            self.frame.push(s);
            if self.frame.len() == FRAME {
                self.on_frame(out);
                self.frame.clear();
            }
        }
    }

    fn on_frame(&mut self, out: &mut Vec<ListenEvent>) {
        self.spectrum.analyse(&self.frame);
        let vad = self.vad.get_or_insert_with(Vad::new);
        match vad.update(&self.spectrum) {
            Some(VadChange::Start { .. }) if self.speech_events => {
                out.push(ListenEvent::SpeechStart)
            }
            Some(VadChange::End { duration_ms, .. }) if self.speech_events => {
                out.push(ListenEvent::SpeechEnd { duration_ms })
            }
            _ => {}
        }
        let speaking = vad.active();
        let tone = tone_tracker::frame_tone(&self.spectrum, &self.frame);
        let beep = self.beep.update(tone);
        if let (Some(hz), true) = (beep, self.beep_events) {
            out.push(ListenEvent::Beep { hz });
        }
        self.watches.retain_mut(|w| match w.update(tone) {
            Some(hz) => {
                out.push(ListenEvent::Tone { id: w.id, hz });
                false
            }
            None => true,
        });
        self.amds.retain_mut(
            |a| match a.update(vad::FRAME_MS, speaking, beep.is_some()) {
                Some((verdict, after_ms)) => {
                    out.push(ListenEvent::Amd {
                        id: a.id,
                        verdict,
                        after_ms,
                    });
                    false
                }
                None => true,
            },
        );
    }
}

/// How a digit arrived, for [`DigitDedup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitSource {
    /// RFC 4733 telephone-event.
    Rfc4733,
    /// Tones in the audio.
    Inband,
}

/// Peers often send a key press both as RFC 4733 events and as tones in
/// the audio: each press is reported once. A digit from one source cancels
/// one unmatched report of the same digit from the other source within
/// [`DigitDedup::WINDOW_MS`] (the jitter buffer delays the in-band copy).
#[derive(Debug, Default)]
pub struct DigitDedup {
    recent: VecDeque<(char, DigitSource, u64)>,
}

impl DigitDedup {
    /// How far apart the two copies of one press may arrive.
    pub const WINDOW_MS: u64 = 1000;

    /// True when `digit` from `source` at `now_ms` is a new press.
    pub fn admit(&mut self, digit: char, source: DigitSource, now_ms: u64) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|&(_, _, t)| now_ms.saturating_sub(t) > Self::WINDOW_MS)
        {
            self.recent.pop_front();
        }
        if let Some(i) = self
            .recent
            .iter()
            .position(|&(d, s, _)| d == digit && s != source)
        {
            self.recent.remove(i);
            return false;
        }
        if self.recent.len() >= 32 {
            self.recent.pop_front();
        }
        self.recent.push_back((digit, source, now_ms));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::sine;

    #[test]
    fn dedup_pairs_each_press_once() {
        use DigitSource::*;
        let mut d = DigitDedup::default();
        // "11": RFC first, the in-band copy 150 ms later, each paired once.
        assert!(d.admit('1', Rfc4733, 0));
        assert!(!d.admit('1', Inband, 150));
        assert!(d.admit('1', Rfc4733, 170));
        assert!(!d.admit('1', Inband, 320));
        // A different digit is never swallowed; nor is a copy far too late.
        assert!(d.admit('2', Inband, 400));
        assert!(d.admit('3', Rfc4733, 500));
        assert!(d.admit('3', Inband, 1600));
        // Only in-band: every press.
        assert!(d.admit('4', Inband, 3000) && d.admit('4', Inband, 3200));
    }

    #[test]
    fn listener_reports_what_was_asked() {
        let mut l = Listener::new();
        let mut a = vec![0i16; 4000];
        a.extend(inband_dtmf::synthesize('9', 100, 5000.0, 0.0, 0.0));
        a.extend(vec![0i16; 4000]);
        a.extend(sine(1000.0, 8000, 4000, 6000));
        a.extend(vec![0i16; 8000]);
        let mut ev = Vec::new();
        l.push(&a, &mut ev);
        assert_eq!(ev, vec![ListenEvent::Dtmf('9')], "only DTMF by default");

        l.set_inband_dtmf(false);
        l.set_speech_events(true);
        l.set_beep_events(true);
        l.watch_tone(1, 800.0, 200);
        l.watch_tone(2, 1000.0, 200);
        let mut ev = Vec::new();
        for c in a.chunks(123) {
            l.push(c, &mut ev);
        }
        assert!(!ev.contains(&ListenEvent::Dtmf('9')));
        assert!(ev
            .iter()
            .any(|e| matches!(e, ListenEvent::Beep { hz } if (hz - 1000.0).abs() < 10.0)));
        assert!(ev
            .iter()
            .any(|e| matches!(e, ListenEvent::Tone { id: 2, .. })));
        assert!(
            !ev.iter()
                .any(|e| matches!(e, ListenEvent::Tone { id: 1, .. })),
            "wrong frequency"
        );
        l.cancel(1);
        assert!(l.watches.is_empty());
    }

    #[test]
    fn answering_machine_on_a_beep() {
        let mut l = Listener::new();
        l.detect_answering_machine(5, 5000);
        let mut a = vec![0i16; 4000];
        a.extend(sine(1000.0, 8000, 3200, 6000));
        let mut ev = Vec::new();
        l.push(&a, &mut ev);
        assert!(
            matches!(ev[..], [ListenEvent::Amd { id: 5, verdict: AmdVerdict::Machine, after_ms }] if after_ms <= 700),
            "{ev:?}"
        );
    }
}
