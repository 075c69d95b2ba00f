//! One end of a bridge between two calls: what this call hears goes out,
//! what the other call hears comes in, as 20 ms frames over lock-free
//! single-producer single-consumer queues (see the [module docs](super)).

use crate::audio::resample::Resampler;
use rtrb::{Consumer, Producer, RingBuffer};
use std::collections::VecDeque;

/// Frames a queue holds: room for a far shard stalling 320 ms.
const CAPACITY: usize = 16;
/// Frames allowed to wait before the oldest are dropped (60 ms of delay).
pub const MAX_LAG: usize = 3;
/// A relayed digit played in-band, for a leg without telephone-event.
const INBAND_TONE_MS: u32 = 100;
const INBAND_GAP_MS: u32 = 70;

/// What travels between the legs.
enum Item {
    /// 20 ms of what one leg heard, at its decoder's rate.
    Audio { rate: u32, samples: Vec<i16> },
    /// An RFC 4733 digit one leg received.
    Dtmf(char),
}

/// One call's end of a bridge. Owned by that call's media pipeline.
pub struct Link {
    id: u64,
    out: Producer<Item>,
    inp: Consumer<Item>,
    resamplers: Vec<((u32, u32), Resampler)>,
    /// In-band DTMF still to play (at `inband_rate`), before bridged audio.
    inband: VecDeque<i16>,
    inband_rate: u32,
    /// Frames dropped because the other leg did not take them.
    dropped: u64,
}

/// A connected pair of ends with one id: give one to each call.
pub fn pair() -> (Link, Link) {
    let id = super::next_port_id();
    let (a_out, b_in) = RingBuffer::new(CAPACITY);
    let (b_out, a_in) = RingBuffer::new(CAPACITY);
    super::port_opened();
    super::port_opened();
    let end = |out, inp| Link {
        id,
        out,
        inp,
        resamplers: Vec::new(),
        inband: VecDeque::new(),
        inband_rate: 8000,
        dropped: 0,
    };
    (end(a_out, a_in), end(b_out, b_in))
}

impl Link {
    /// The bridge's id (both ends share it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True once the other end is gone (its call closed or was unbridged).
    pub fn is_broken(&self) -> bool {
        self.out.is_abandoned() || self.inp.is_abandoned()
    }

    /// Frames the other leg did not take in time.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hand over this tick's heard audio (20 ms at `rate`). Never blocks: a
    /// full queue drops the frame.
    pub fn push_heard(&mut self, pcm: &[i16], rate: u32) {
        let item = Item::Audio {
            rate,
            samples: pcm.to_vec(),
        };
        if self.out.push(item).is_err() {
            self.dropped += 1;
        }
    }

    /// Relay a received RFC 4733 digit.
    pub fn push_dtmf(&mut self, c: char) {
        if self.out.push(Item::Dtmf(c)).is_err() {
            self.dropped += 1;
        }
    }

    /// Append this tick's 20 ms at `out_rate` to `frame` (silence when the
    /// other leg sent nothing yet); digits that arrived go to `digits`.
    pub fn pull(&mut self, out_rate: u32, frame: &mut Vec<i16>, digits: &mut Vec<char>) {
        let spf = (out_rate / 50) as usize;
        let start = frame.len();
        // Keep the delay bounded: drop the oldest audio beyond MAX_LAG.
        while self.inp.slots() > MAX_LAG {
            match self.inp.pop() {
                Ok(Item::Dtmf(c)) => digits.push(c),
                Ok(Item::Audio { .. }) => {}
                Err(_) => break,
            }
        }
        let mut audio = None;
        while let Ok(item) = self.inp.pop() {
            match item {
                Item::Dtmf(c) => digits.push(c),
                Item::Audio { rate, samples } => {
                    audio = Some((rate, samples));
                    break;
                }
            }
        }
        if !self.inband.is_empty() && self.inband_rate == out_rate {
            let n = spf.min(self.inband.len());
            frame.extend(self.inband.drain(..n));
        } else if let Some((rate, samples)) = audio {
            crate::media::convert(&mut self.resamplers, rate, out_rate, &samples, frame);
        }
        frame.resize(start + spf, 0);
    }

    /// Queue `c` as an in-band DTMF tone pair at `rate` (for a leg that did
    /// not negotiate telephone-event).
    pub fn play_inband(&mut self, c: char, rate: u32) {
        let Some((lo, hi)) = dtmf_frequencies(c) else {
            return;
        };
        if rate != self.inband_rate {
            self.inband.clear();
            self.inband_rate = rate;
        }
        let n = (rate / 1000 * INBAND_TONE_MS) as usize;
        let a = crate::tone::sine(lo, rate, n, 7000);
        let b = crate::tone::sine(hi, rate, n, 7000);
        self.inband
            .extend(a.iter().zip(&b).map(|(x, y)| x.saturating_add(*y)));
        let gap = (rate / 1000 * INBAND_GAP_MS) as usize;
        self.inband.extend(std::iter::repeat_n(0, gap));
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        super::port_closed();
    }
}

/// The row and column frequencies of a DTMF key (ITU-T Q.23).
fn dtmf_frequencies(c: char) -> Option<(f32, f32)> {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    let c = c.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(r, row)| {
        row.chars()
            .position(|k| k == c)
            .map(|col| (ROWS[r], COLS[col]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_resampled_and_digits_keep_their_place() {
        let (mut a, mut b) = pair();
        let tone = crate::tone::sine(1000.0, 48000, 960, 8000);
        a.push_heard(&tone, 48000);
        a.push_dtmf('5');
        let (mut frame, mut digits) = (Vec::new(), Vec::new());
        b.pull(8000, &mut frame, &mut digits);
        assert_eq!(frame.len(), 160);
        assert!(digits.is_empty(), "the digit follows its frame");
        b.pull(8000, &mut frame, &mut digits);
        assert_eq!((frame.len(), digits.as_slice()), (320, &['5'][..]));
        // Nothing queued: silence, still 20 ms.
        frame.clear();
        b.pull(16000, &mut frame, &mut digits);
        assert_eq!(frame, vec![0; 320]);
    }

    #[test]
    fn delay_stays_bounded_and_a_full_queue_drops() {
        let (mut a, mut b) = pair();
        for i in 0..(CAPACITY + 4) {
            a.push_heard(&[i as i16; 160], 8000);
        }
        assert_eq!(a.dropped(), 4);
        let (mut frame, mut digits) = (Vec::new(), Vec::new());
        b.pull(8000, &mut frame, &mut digits);
        // The oldest were dropped down to MAX_LAG waiting.
        assert_eq!(frame[0], (CAPACITY - MAX_LAG) as i16);
    }

    #[test]
    fn inband_dtmf_is_the_right_pair_and_a_dropped_end_breaks_the_link() {
        let (mut a, b) = pair();
        a.play_inband('6', 8000);
        let (mut frame, mut digits) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            a.pull(8000, &mut frame, &mut digits);
        }
        let p = |f| crate::tone::goertzel_power(&frame[..800], 8000, f);
        assert!(p(770.0) > 10.0 * p(697.0) && p(1477.0) > 10.0 * p(1336.0));
        assert!(!a.is_broken());
        drop(b);
        assert!(a.is_broken());
    }
}
