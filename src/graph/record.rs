//! A recording of one call: what it hears (`rx`), what it sends (`tx`),
//! both side by side (`stereo`: remote left, local right) or summed
//! (`mixed`). Fed once per 20 ms tick, so the two directions stay in step:
//! a tick with nothing decoded (loss before the jitter buffer conceals, a
//! silent or held far end) or nothing sent is written as silence.

use crate::audio::resample::Resampler;
use crate::media::{FinishCallback, PcmSink, SinkStatus};

/// Which side(s) of the call a recording holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordChannels {
    /// What the far end sends, mono, written as it is decoded.
    Rx,
    /// What this side sends, mono.
    Tx,
    /// Two channels: far end left, this side right, time-aligned.
    Stereo,
    /// One channel, both sides summed.
    Mixed,
}

impl RecordChannels {
    /// `"rx"`, `"tx"`, `"stereo"` or `"mixed"`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rx" => Self::Rx,
            "tx" => Self::Tx,
            "stereo" => Self::Stereo,
            "mixed" => Self::Mixed,
            _ => return None,
        })
    }

    /// Channels in the file.
    pub fn count(self) -> u16 {
        if self == Self::Stereo {
            2
        } else {
            1
        }
    }
}

type Cache = Vec<((u32, u32), Resampler)>;

/// A recording in progress, owned by the call's pipeline.
pub struct LegRecorder {
    mode: RecordChannels,
    rate: u32,
    rx_rs: Cache,
    tx_rs: Cache,
    sink: Box<dyn PcmSink>,
    /// Sample frames handed to the sink.
    frames: u64,
    rx: Vec<i16>,
    tx: Vec<i16>,
    out: Vec<i16>,
}

impl LegRecorder {
    /// Record `mode` at `rate` into `sink` (which takes interleaved frames
    /// when the mode is stereo).
    pub fn new(mode: RecordChannels, rate: u32, sink: Box<dyn PcmSink>) -> Self {
        LegRecorder {
            mode,
            rate,
            rx_rs: Vec::new(),
            tx_rs: Vec::new(),
            sink,
            frames: 0,
            rx: Vec::new(),
            tx: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Duration handed to the file so far, in ms.
    pub fn duration_ms(&self) -> f64 {
        self.frames as f64 * 1000.0 / f64::from(self.rate)
    }

    /// One tick: `heard` is the decoded far-end audio (`None`: nothing was
    /// decoded), `sent` what went out (`None`: nothing was sent), each with
    /// its rate.
    pub fn tick(
        &mut self,
        heard: Option<(&[i16], u32)>,
        sent: Option<(&[i16], u32)>,
    ) -> SinkStatus {
        let spf = (self.rate / 50) as usize;
        if self.mode == RecordChannels::Rx {
            // The pre-existing mono recording: decoded audio as it comes.
            let Some((pcm, rate)) = heard else {
                return SinkStatus::Ok;
            };
            self.rx.clear();
            crate::media::convert(&mut self.rx_rs, rate, self.rate, pcm, &mut self.rx);
            self.frames += self.rx.len() as u64;
            return self.sink.write(&self.rx);
        }
        // Exactly 20 ms per side per tick, whatever the resamplers' edges do.
        let side = |v: &mut Vec<i16>, cache: &mut Cache, src: Option<(&[i16], u32)>| {
            v.clear();
            if let Some((pcm, rate)) = src {
                crate::media::convert(cache, rate, self.rate, pcm, v);
            }
            v.resize(spf, 0);
        };
        self.out.clear();
        match self.mode {
            RecordChannels::Tx => {
                side(&mut self.tx, &mut self.tx_rs, sent);
                self.out.extend_from_slice(&self.tx);
            }
            RecordChannels::Stereo => {
                side(&mut self.rx, &mut self.rx_rs, heard);
                side(&mut self.tx, &mut self.tx_rs, sent);
                for (l, r) in self.rx.iter().zip(&self.tx) {
                    self.out.push(*l);
                    self.out.push(*r);
                }
            }
            _ => {
                side(&mut self.rx, &mut self.rx_rs, heard);
                side(&mut self.tx, &mut self.tx_rs, sent);
                self.out.extend(
                    self.rx
                        .iter()
                        .zip(&self.tx)
                        .map(|(a, b)| a.saturating_add(*b)),
                );
            }
        }
        self.frames += spf as u64;
        self.sink.write(&self.out)
    }

    /// Finish the file; `done` learns when it is complete.
    pub fn finish(self, done: Option<FinishCallback>) {
        self.sink.finish(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Mem(Arc<Mutex<Vec<i16>>>);
    impl PcmSink for Mem {
        fn write(&mut self, pcm: &[i16]) -> SinkStatus {
            self.0.lock().unwrap().extend_from_slice(pcm);
            SinkStatus::Ok
        }
        fn finish(self: Box<Self>, done: Option<FinishCallback>) {
            if let Some(d) = done {
                d(Ok(()))
            }
        }
    }

    #[test]
    fn stereo_keeps_both_sides_in_step_through_gaps() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut r = LegRecorder::new(RecordChannels::Stereo, 16000, Box::new(Mem(buf.clone())));
        let heard = crate::tone::sine(500.0, 48000, 960, 8000);
        let sent = crate::tone::sine(1500.0, 8000, 160, 8000);
        for i in 0..50 {
            // Every third tick the far end is silent (loss, nothing decoded).
            let h = (i % 3 != 0).then_some((&heard[..], 48000));
            r.tick(h, Some((&sent[..], 8000)));
        }
        assert_eq!(r.duration_ms(), 1000.0);
        let all = buf.lock().unwrap().clone();
        assert_eq!(all.len(), 2 * 16000);
        let left: Vec<i16> = all.iter().step_by(2).copied().collect();
        let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(&left[..320], &[0; 320][..], "tick 0 had nothing decoded");
        let f = |v: &[i16]| crate::tone::dominant_frequency(v, 16000).unwrap();
        assert!((f(&left[320..960]) - 500.0).abs() < 20.0);
        assert!((f(&right[8000..]) - 1500.0).abs() < 20.0);
    }

    #[test]
    fn rx_mode_writes_only_decoded_audio() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut r = LegRecorder::new(RecordChannels::Rx, 8000, Box::new(Mem(buf.clone())));
        r.tick(None, Some((&[5; 160], 8000)));
        r.tick(Some((&[7; 160], 8000)), None);
        assert_eq!(*buf.lock().unwrap(), vec![7; 160]);
        assert_eq!(r.duration_ms(), 20.0);
    }
}
