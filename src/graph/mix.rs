//! A conference: N calls, each hearing the others but not itself, mixed at
//! one rate on the media clock.
//!
//! Each participant's pipeline owns a [`Seat`] (its port into the
//! [`Mixer`]). Once per 20 ms tick of its own clock a seat pushes the frame
//! its call heard and pulls its mix: the frames of every other unmuted seat
//! it has not heard yet (each scaled by that seat's gain), plus the
//! announcement playing to all. Every listener keeps its own cursor into
//! every speaker's short ring of frames, so participants on different I/O
//! threads, whose ticks are not in phase, each hear every frame once; a
//! cursor more than [`MAX_LAG`] frames behind skips ahead, which bounds the
//! delay the mixer adds. One mutex guards the mixer; a seat holds it for the
//! copy and the sums only (resampling happens outside it), a few
//! microseconds per tick, so the legs of a conference may live on any shards.
//!
//! ```
//! use sipwire::graph::mix::Mixer;
//! let mixer = Mixer::new(16000);
//! let (mut a, mut b) = (Mixer::seat(&mixer), Mixer::seat(&mixer));
//! a.push_heard(&[1000; 320], 16000);
//! let mut frame = Vec::new();
//! b.pull(16000, &mut frame);
//! assert_eq!(frame, vec![1000; 320]); // b hears a
//! frame.clear();
//! a.pull(16000, &mut frame);
//! assert_eq!(frame, vec![0; 320]); // a does not hear itself
//! ```

use crate::audio::resample::Resampler;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// Frames each speaker's ring keeps.
const RING: usize = 16;
/// Frames a listener may fall behind a speaker before skipping ahead.
pub const MAX_LAG: u64 = 3;
/// RMS (of 32768) above which a seat counts as speaking: about -40 dBFS.
const SPEAKING_RMS: f32 = 330.0;
/// Ticks a seat stays "speaking" after its level dropped (300 ms).
const HANGOVER_TICKS: u32 = 15;

struct SeatState {
    id: u64,
    ring: VecDeque<(u64, Vec<i16>)>,
    /// Sequence number of the next frame this seat pushes.
    next_seq: u64,
    /// (speaker id, next sequence to hear) for every other seat.
    cursors: Vec<(u64, u64)>,
    /// Next announcement frame to hear.
    ann_cursor: u64,
    muted: bool,
    gain: f32,
    level: f32,
    hangover: u32,
}

/// The shared state of one conference.
pub struct Mixer {
    rate: u32,
    seats: Vec<SeatState>,
    /// Announcement samples not yet framed, at `rate`.
    announce: VecDeque<i16>,
    ann_ring: VecDeque<(u64, Vec<i16>)>,
    ann_next_seq: u64,
    closed: bool,
}

/// How a participant is doing, for "who is speaking".
#[derive(Clone, Debug, PartialEq)]
pub struct SeatInfo {
    /// The seat's id.
    pub id: u64,
    /// Level of the last frame it sent, 0..1 (RMS).
    pub level: f64,
    /// Level above about -40 dBFS within the last 300 ms.
    pub speaking: bool,
    /// Not mixed into anyone's audio.
    pub muted: bool,
    /// Gain applied to what it says.
    pub gain: f64,
}

fn lock(m: &Mutex<Mixer>) -> MutexGuard<'_, Mixer> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Mixer {
    /// A conference mixing at `rate` (8000, 16000 or 48000).
    pub fn new(rate: u32) -> Arc<Mutex<Mixer>> {
        Arc::new(Mutex::new(Mixer {
            rate,
            seats: Vec::new(),
            announce: VecDeque::new(),
            ann_ring: VecDeque::new(),
            ann_next_seq: 0,
            closed: false,
        }))
    }

    /// A new seat: the port a participant's pipeline owns.
    pub fn seat(mixer: &Arc<Mutex<Mixer>>) -> Seat {
        let id = super::next_port_id();
        let mut m = lock(mixer);
        let ann = m.ann_next_seq;
        m.seats.push(SeatState {
            id,
            ring: VecDeque::new(),
            next_seq: 0,
            cursors: Vec::new(),
            ann_cursor: ann,
            muted: false,
            gain: 1.0,
            level: 0.0,
            hangover: 0,
        });
        let rate = m.rate;
        drop(m);
        super::port_opened();
        Seat {
            mixer: mixer.clone(),
            id,
            rate,
            in_rs: Vec::new(),
            out_rs: Vec::new(),
            tmp: Vec::new(),
            mix: Vec::new(),
        }
    }

    /// The mixing rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Seats currently in the conference.
    pub fn len(&self) -> usize {
        self.seats.len()
    }

    /// True with no seat.
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// Mute or unmute seat `id`; false if it is not here.
    pub fn set_muted(&mut self, id: u64, muted: bool) -> bool {
        self.seats
            .iter_mut()
            .find(|s| s.id == id)
            .map(|s| s.muted = muted)
            .is_some()
    }

    /// Scale what seat `id` says by `gain` (0..=4); false if it is not here.
    pub fn set_gain(&mut self, id: u64, gain: f32) -> bool {
        self.seats
            .iter_mut()
            .find(|s| s.id == id)
            .map(|s| s.gain = gain.clamp(0.0, 4.0))
            .is_some()
    }

    /// Every seat's level and speaking state.
    pub fn seats(&self) -> Vec<SeatInfo> {
        self.seats
            .iter()
            .map(|s| SeatInfo {
                id: s.id,
                level: f64::from(s.level) / 32768.0,
                speaking: s.hangover > 0,
                muted: s.muted,
                gain: f64::from(s.gain),
            })
            .collect()
    }

    /// Play `samples` (at the mixer's rate) to every seat, after what is
    /// still queued.
    pub fn announce(&mut self, samples: &[i16]) {
        self.announce.extend(samples.iter().copied());
    }

    /// Drop the announcement queue.
    pub fn stop_announcement(&mut self) {
        self.announce.clear();
    }

    /// Samples of announcement not yet played.
    pub fn announcement_left(&self) -> usize {
        self.announce.len()
    }

    /// End the conference: every seat detaches on its next tick.
    pub fn close(&mut self) {
        self.closed = true;
        self.announce.clear();
    }

    fn push(&mut self, id: u64, frame: Vec<i16>) {
        let Some(s) = self.seats.iter_mut().find(|s| s.id == id) else {
            return;
        };
        let rms = crate::tone::rms(&frame);
        s.level = rms;
        if rms > SPEAKING_RMS {
            s.hangover = HANGOVER_TICKS;
        } else {
            s.hangover = s.hangover.saturating_sub(1);
        }
        s.ring.push_back((s.next_seq, frame));
        s.next_seq += 1;
        if s.ring.len() > RING {
            s.ring.pop_front();
        }
    }

    /// Sum into `mix` (len = one frame at the mixer's rate) what `id` has
    /// not heard yet from the others and the announcement.
    fn mix_for(&mut self, id: u64, mix: &mut [i32]) {
        let Some(li) = self.seats.iter().position(|s| s.id == id) else {
            return;
        };
        let mut cursors = std::mem::take(&mut self.seats[li].cursors);
        cursors.retain(|(sid, _)| self.seats.iter().any(|s| s.id == *sid));
        for s in self.seats.iter().filter(|s| s.id != id) {
            let i = match cursors.iter().position(|(sid, _)| *sid == s.id) {
                Some(i) => i,
                None => {
                    // Met for the first time: start at its latest frame.
                    cursors.push((s.id, s.next_seq.saturating_sub(1)));
                    cursors.len() - 1
                }
            };
            let c = &mut cursors[i].1;
            if s.next_seq.saturating_sub(*c) > MAX_LAG {
                *c = s.next_seq - MAX_LAG;
            }
            if *c >= s.next_seq {
                continue; // It has not ticked since we last heard it.
            }
            let seq = *c;
            *c += 1;
            if s.muted {
                continue;
            }
            if let Some((_, f)) = s.ring.iter().find(|(q, _)| *q == seq) {
                let g = s.gain;
                for (m, x) in mix.iter_mut().zip(f) {
                    *m += (f32::from(*x) * g) as i32;
                }
            }
        }
        self.seats[li].cursors = cursors;
        // The announcement: framed on demand by the first listener to need
        // the next frame; the others read it from the ring.
        let spf = mix.len();
        let mut c = self.seats[li].ann_cursor;
        if self.ann_next_seq.saturating_sub(c) > MAX_LAG {
            c = self.ann_next_seq - MAX_LAG;
        }
        if c == self.ann_next_seq && !self.announce.is_empty() {
            let n = spf.min(self.announce.len());
            let mut f: Vec<i16> = self.announce.drain(..n).collect();
            f.resize(spf, 0);
            self.ann_ring.push_back((self.ann_next_seq, f));
            self.ann_next_seq += 1;
            if self.ann_ring.len() > RING {
                self.ann_ring.pop_front();
            }
        }
        if c < self.ann_next_seq {
            if let Some((_, f)) = self.ann_ring.iter().find(|(q, _)| *q == c) {
                for (m, x) in mix.iter_mut().zip(f) {
                    *m += i32::from(*x);
                }
            }
            c += 1;
        }
        self.seats[li].ann_cursor = c;
    }
}

type Cache = Vec<((u32, u32), Resampler)>;

/// A participant's port into a [`Mixer`], owned by its call's pipeline.
/// Dropping it leaves the conference.
pub struct Seat {
    mixer: Arc<Mutex<Mixer>>,
    id: u64,
    rate: u32,
    in_rs: Cache,
    out_rs: Cache,
    tmp: Vec<i16>,
    mix: Vec<i32>,
}

impl Seat {
    /// The seat's id (unique among all graph ports).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The conference this seat is in.
    pub fn mixer(&self) -> &Arc<Mutex<Mixer>> {
        &self.mixer
    }

    /// True once the conference ended or this seat was removed from it.
    pub fn is_broken(&self) -> bool {
        let m = lock(&self.mixer);
        m.closed || !m.seats.iter().any(|s| s.id == self.id)
    }

    /// Hand over this tick's heard audio (20 ms at `rate`).
    pub fn push_heard(&mut self, pcm: &[i16], rate: u32) {
        let spf = (self.rate / 50) as usize;
        let mut frame = Vec::with_capacity(spf);
        crate::media::convert(&mut self.in_rs, rate, self.rate, pcm, &mut frame);
        frame.resize(spf, 0);
        lock(&self.mixer).push(self.id, frame);
    }

    /// Append this tick's mix, 20 ms at `out_rate`, to `frame`.
    pub fn pull(&mut self, out_rate: u32, frame: &mut Vec<i16>) {
        let spf = (self.rate / 50) as usize;
        self.mix.clear();
        self.mix.resize(spf, 0);
        lock(&self.mixer).mix_for(self.id, &mut self.mix);
        self.tmp.clear();
        self.tmp
            .extend(self.mix.iter().map(|&v| v.clamp(-32768, 32767) as i16));
        let start = frame.len();
        crate::media::convert(&mut self.out_rs, self.rate, out_rate, &self.tmp, frame);
        frame.resize(start + (out_rate / 50) as usize, 0);
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut m = lock(&self.mixer);
        m.seats.retain(|s| s.id != self.id);
        drop(m);
        super::port_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(f: f32) -> Vec<i16> {
        crate::tone::sine(f, 16000, 320, 3000)
    }

    #[test]
    fn each_hears_the_others_not_itself_with_gain_mute_and_announcement() {
        let m = Mixer::new(16000);
        let freqs = [400.0, 650.0, 950.0, 1300.0, 1700.0];
        let mut seats: Vec<Seat> = freqs.iter().map(|_| Mixer::seat(&m)).collect();
        let mut heard: Vec<Vec<i16>> = vec![Vec::new(); 5];
        let mut gens: Vec<_> = freqs
            .iter()
            .map(|f| crate::tone::ToneGenerator::new(*f, 16000, 3000))
            .collect();
        let mut f = vec![0i16; 320];
        // Seats tick in a different order each time (out of phase).
        for t in 0..50 {
            for k in 0..5 {
                let i = (k + t) % 5;
                gens[i].next_frame(&mut f);
                seats[i].push_heard(&f, 16000);
                seats[i].pull(16000, &mut heard[i]);
            }
        }
        for (i, h) in heard.iter().enumerate() {
            let tail = &h[h.len() / 2..];
            let p = |f| crate::tone::goertzel_power(tail, 16000, f);
            let other = p(freqs[(i + 1) % 5]);
            for (j, f) in freqs.iter().enumerate() {
                if i == j {
                    assert!(p(*f) < 1e-2 * other, "{i} hears itself");
                } else {
                    assert!(p(*f) > 0.5 * other, "{i} misses {j}");
                }
            }
        }
        let id0 = seats[0].id();
        {
            let mut mm = m.lock().unwrap();
            assert!(mm.set_muted(id0, true));
            assert!(mm.seats().iter().find(|s| s.id == id0).unwrap().speaking);
        }
        let mut h1 = Vec::new();
        for _ in 0..10 {
            seats[0].push_heard(&tone(400.0), 16000);
            seats[1].pull(16000, &mut h1);
        }
        assert!(
            crate::tone::goertzel_power(&h1, 16000, 400.0) < 1.0,
            "muted"
        );
        // An announcement reaches everyone once (after what they still had to hear).
        for s in seats.iter_mut() {
            s.pull(16000, &mut Vec::new());
        }
        m.lock()
            .unwrap()
            .announce(&crate::tone::sine(2000.0, 16000, 1600, 4000));
        let mut got = vec![Vec::new(); 5];
        for _ in 0..8 {
            for (i, s) in seats.iter_mut().enumerate() {
                s.pull(16000, &mut got[i]);
            }
        }
        // Each heard it exactly once: the energy of 1600 samples of the tone.
        let want = 1600.0 * 4000f64.powi(2) / 2.0;
        for g in &got {
            let e: f64 = g.iter().map(|&x| f64::from(x).powi(2)).sum();
            assert!(
                (e / want - 1.0).abs() < 0.05,
                "announcement energy {}",
                e / want
            );
        }
        // Leaving removes the seat; closing breaks the others.
        drop(seats.pop());
        assert_eq!(m.lock().unwrap().len(), 4);
        m.lock().unwrap().close();
        assert!(seats.iter().all(|s| s.is_broken()));
    }
}
