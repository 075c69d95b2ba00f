//! Audio jitter buffer (sans-IO).
//!
//! RTP audio arrives with jitter, reordering, duplicates and loss; the
//! playback side wants exactly one frame per 20 ms tick. [`JitterBuffer`]
//! sits in between: the network side calls [`JitterBuffer::push`] per
//! packet, the media clock calls [`JitterBuffer::pop`] once per tick and
//! gets a frame, a loss indication (run PLC) or "nothing playing" (output
//! silence). No clocks are read: pacing comes entirely from `pop` calls.
//!
//! Ordering and loss detection use the (unwrapped) RTP sequence number; the
//! (unwrapped) RTP timestamp is used to detect discontinuities (new SSRC,
//! timestamp jumps) that force a resync.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::seq::{SeqUnwrapper, TsUnwrapper};

/// Default playout delay in frames.
pub const DEFAULT_TARGET_FRAMES: u32 = 2;
/// Maximum number of frames held before the buffer resyncs to the newest.
pub const MAX_FRAMES: u32 = 50;
/// Consecutive missing frames (with nothing buffered) before going idle.
pub const IDLE_AFTER_MISSING: u32 = 10;
/// Consecutive ticks with a too-deep buffer before one frame is dropped.
const DRIFT_TICKS: u32 = 50;
/// Frames above target tolerated before drift correction kicks in.
const DRIFT_SLACK: u64 = 3;

/// Result of one [`JitterBuffer::pop`] tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitterOut {
    /// The payload for this tick.
    Frame(Bytes),
    /// A packet is missing inside a flowing stream: run packet-loss
    /// concealment.
    Lost,
    /// Nothing is playing (not started yet, or the stream went idle):
    /// output plain silence, no PLC.
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Playing,
}

/// Sans-IO audio jitter buffer; see the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    clock_rate: u32,
    frame_samples: u32,
    target_frames: u32,
    seq: SeqUnwrapper,
    ts: TsUnwrapper,
    /// Buffered packets by extended sequence number.
    packets: BTreeMap<u64, Bytes>,
    state: State,
    /// Extended sequence number of the next frame to play (when playing).
    playout_seq: u64,
    /// Last extended sequence number handed out (played or concealed).
    last_played: Option<u64>,
    /// (extended seq, extended ts) of the last accepted packet.
    anchor: Option<(u64, u64)>,
    /// Ticks spent idle while packets were buffered.
    wait_ticks: u32,
    missing_run: u32,
    deep_run: u32,
    received: u64,
    lost: u64,
    discarded: u64,
    resyncs: u64,
}

impl JitterBuffer {
    /// Creates a buffer for a stream with the given RTP clock rate and
    /// samples per frame (e.g. 48000/960 for Opus, 8000/160 for G.711).
    /// Zero values are replaced by 8000 and `clock_rate / 50`.
    pub fn new(clock_rate: u32, frame_samples: u32) -> Self {
        let clock_rate = if clock_rate == 0 { 8000 } else { clock_rate };
        let frame_samples = if frame_samples == 0 {
            (clock_rate / 50).max(1)
        } else {
            frame_samples
        };
        Self {
            clock_rate,
            frame_samples,
            target_frames: DEFAULT_TARGET_FRAMES,
            seq: SeqUnwrapper::new(),
            ts: TsUnwrapper::new(),
            packets: BTreeMap::new(),
            state: State::Idle,
            playout_seq: 0,
            last_played: None,
            anchor: None,
            wait_ticks: 0,
            missing_run: 0,
            deep_run: 0,
            received: 0,
            lost: 0,
            discarded: 0,
            resyncs: 0,
        }
    }

    /// Sets the playout delay in frames (clamped to `1..=MAX_FRAMES / 2`).
    ///
    /// Playback starts once `target + 1` frames are buffered (or after
    /// `target + 1` ticks), so the playout point runs about `target` frames
    /// behind the newest packet.
    pub fn with_target_frames(mut self, frames: u32) -> Self {
        self.target_frames = frames.clamp(1, MAX_FRAMES / 2);
        self
    }

    /// Configured playout delay in frames.
    pub fn target_frames(&self) -> u32 {
        self.target_frames
    }

    /// Forgets all buffered packets and sequence state (e.g. on SSRC
    /// change). Statistics are kept.
    pub fn reset(&mut self) {
        self.discarded += self.packets.len() as u64;
        self.packets.clear();
        self.seq.reset();
        self.ts.reset();
        self.state = State::Idle;
        self.playout_seq = 0;
        self.last_played = None;
        self.anchor = None;
        self.wait_ticks = 0;
        self.missing_run = 0;
        self.deep_run = 0;
    }

    fn max_jump_frames(&self) -> u64 {
        u64::from((self.clock_rate / self.frame_samples).max(MAX_FRAMES))
    }

    /// Reference sequence number new packets are compared against.
    fn reference_seq(&self) -> Option<u64> {
        match self.state {
            State::Playing => Some(self.playout_seq),
            State::Idle => self
                .packets
                .keys()
                .next()
                .copied()
                .or(self.last_played.map(|s| s + 1)),
        }
    }

    fn is_far(&self, ext_seq: u64, ext_ts: u64) -> bool {
        if let Some(r) = self.reference_seq() {
            if ext_seq.abs_diff(r) > self.max_jump_frames() {
                return true;
            }
        }
        if let Some((aseq, ats)) = self.anchor {
            let expected =
                ats as i128 + (ext_seq as i128 - aseq as i128) * i128::from(self.frame_samples);
            if (ext_ts as i128 - expected).abs() > i128::from(self.clock_rate) {
                return true;
            }
        }
        false
    }

    /// Feeds one received RTP packet (sequence number, RTP timestamp and
    /// payload). Late, duplicate and overflowing packets are discarded and
    /// counted; a packet more than ~1 s away from the playout point causes a
    /// resync to that packet.
    pub fn push(&mut self, seq: u16, timestamp: u32, payload: Bytes) {
        self.received += 1;
        let mut ext_seq = self.seq.peek(seq);
        let mut ext_ts = self.ts.peek(timestamp);
        if self.is_far(ext_seq, ext_ts) {
            log::debug!("jitter: resync (seq {seq}, ts {timestamp})");
            self.resyncs += 1;
            self.reset();
            ext_seq = self.seq.peek(seq);
            ext_ts = self.ts.peek(timestamp);
        }
        let late = match self.state {
            State::Playing => ext_seq < self.playout_seq,
            State::Idle => self.last_played.is_some_and(|l| ext_seq <= l),
        };
        if late || self.packets.contains_key(&ext_seq) {
            self.discarded += 1;
            return;
        }
        self.seq.unwrap(seq);
        self.ts.unwrap(timestamp);
        if self.anchor.is_none_or(|(s, _)| ext_seq > s) {
            self.anchor = Some((ext_seq, ext_ts));
        }
        self.packets.insert(ext_seq, payload);
        self.enforce_bound();
    }

    /// Drops the oldest packets if more than [`MAX_FRAMES`] are spanned.
    fn enforce_bound(&mut self) {
        let (Some(&first), Some(&newest)) =
            (self.packets.keys().next(), self.packets.keys().last())
        else {
            return;
        };
        let start = if self.state == State::Playing {
            self.playout_seq.min(first)
        } else {
            first
        };
        if newest - start < u64::from(MAX_FRAMES) {
            return;
        }
        let keep_from = newest.saturating_sub(u64::from(self.target_frames));
        let kept = self.packets.split_off(&keep_from);
        self.discarded += self.packets.len() as u64;
        self.packets = kept;
        if self.state == State::Playing {
            self.playout_seq = keep_from;
        }
        self.deep_run = 0;
    }

    /// Frames buffered from the playout point to the newest packet.
    fn span(&self) -> u64 {
        let Some(&newest) = self.packets.keys().last() else {
            return 0;
        };
        let from = match self.state {
            State::Playing => self.playout_seq,
            State::Idle => self.packets.keys().next().copied().unwrap_or(newest),
        };
        (newest + 1).saturating_sub(from)
    }

    /// Advances one tick (call exactly once per frame duration) and returns
    /// what to play.
    pub fn pop(&mut self) -> JitterOut {
        if self.state == State::Idle {
            let Some(&first) = self.packets.keys().next() else {
                return JitterOut::Empty;
            };
            self.wait_ticks += 1;
            let need = u64::from(self.target_frames) + 1;
            if self.span() < need && u64::from(self.wait_ticks) < need {
                return JitterOut::Empty;
            }
            self.state = State::Playing;
            self.playout_seq = first;
            self.wait_ticks = 0;
            self.missing_run = 0;
            self.deep_run = 0;
        }

        // Clock-drift correction: if the buffer stays too deep, skip a frame.
        if self.span() > u64::from(self.target_frames) + 1 + DRIFT_SLACK {
            self.deep_run += 1;
            if self.deep_run >= DRIFT_TICKS {
                // While still too deep, keep dropping every few ticks.
                self.deep_run = DRIFT_TICKS - 5;
                if self.packets.remove(&self.playout_seq).is_some() {
                    self.discarded += 1;
                }
                self.playout_seq += 1;
            }
        } else {
            self.deep_run = 0;
        }

        let seq = self.playout_seq;
        if let Some(frame) = self.packets.remove(&seq) {
            self.playout_seq += 1;
            self.last_played = Some(seq);
            self.missing_run = 0;
            return JitterOut::Frame(frame);
        }
        if self.packets.is_empty() {
            self.missing_run += 1;
            if self.missing_run > IDLE_AFTER_MISSING {
                // The far end stopped sending (e.g. on hold): go idle.
                self.state = State::Idle;
                self.missing_run = 0;
                self.wait_ticks = 0;
                return JitterOut::Empty;
            }
        }
        self.playout_seq += 1;
        self.last_played = Some(seq);
        self.lost += 1;
        JitterOut::Lost
    }

    /// Whether playout is running (as opposed to idle/buffering).
    pub fn is_playing(&self) -> bool {
        self.state == State::Playing
    }

    /// Total packets passed to [`push`](Self::push).
    pub fn packets_received(&self) -> u64 {
        self.received
    }

    /// Ticks that returned [`JitterOut::Lost`] (frames to conceal).
    pub fn packets_lost(&self) -> u64 {
        self.lost
    }

    /// Packets dropped as late, duplicate, overflow or on resync.
    pub fn packets_discarded(&self) -> u64 {
        self.discarded
    }

    /// Number of automatic resyncs (big seq/timestamp jumps).
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// Current buffering delay in frames (playout point to newest packet).
    pub fn delay_frames(&self) -> u32 {
        self.span().min(u64::from(u32::MAX)) as u32
    }

    /// Packets currently buffered.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether no packets are buffered.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u32 = 160;

    fn p(i: u32) -> Bytes {
        Bytes::from(i.to_be_bytes().to_vec())
    }

    fn id(out: &JitterOut) -> Option<u32> {
        match out {
            JitterOut::Frame(b) => Some(u32::from_be_bytes(b[..4].try_into().unwrap())),
            _ => None,
        }
    }

    /// Pushes packet i (seq/ts derived from bases) and pops once per tick.
    fn stream(jb: &mut JitterBuffer, seq0: u16, ts0: u32, ids: &[u32]) -> Vec<JitterOut> {
        ids.iter()
            .map(|&i| {
                jb.push(seq0.wrapping_add(i as u16), ts0.wrapping_add(i * N), p(i));
                jb.pop()
            })
            .collect()
    }

    fn frames(outs: &[JitterOut]) -> Vec<u32> {
        outs.iter().filter_map(id).collect()
    }

    #[test]
    fn in_order_with_initial_delay() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 100, 1000, &(0..20).collect::<Vec<_>>());
        assert_eq!(outs[0], JitterOut::Empty);
        assert_eq!(outs[1], JitterOut::Empty);
        assert_eq!(id(&outs[2]), Some(0));
        assert_eq!(frames(&outs), (0..18).collect::<Vec<_>>());
        assert_eq!(jb.delay_frames(), 2);
        assert_eq!(jb.packets_received(), 20);
        assert_eq!(jb.packets_lost(), 0);
        assert_eq!(jb.packets_discarded(), 0);
        assert!(jb.is_playing());
    }

    #[test]
    fn target_frames_configurable() {
        let mut jb = JitterBuffer::new(8000, N).with_target_frames(1);
        let outs = stream(&mut jb, 0, 0, &[0, 1, 2]);
        assert_eq!(outs[0], JitterOut::Empty);
        assert_eq!(id(&outs[1]), Some(0));
        assert_eq!(jb.target_frames(), 1);
    }

    #[test]
    fn reorder() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 7, 0, &[0, 2, 1, 3, 5, 4, 6, 7, 8]);
        // Packet 2 arriving makes the span 3 frames, so playout starts early.
        assert_eq!(frames(&outs), (0..8).collect::<Vec<_>>());
        assert_eq!(jb.packets_lost(), 0);
    }

    #[test]
    fn duplicates_and_late() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 0, 0, &[0, 1, 1, 2, 3, 0, 4, 5]);
        // Third tick starts playout (waited target + 1 ticks).
        assert_eq!(frames(&outs), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(jb.packets_discarded(), 2);
    }

    #[test]
    fn loss_reports_lost() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 0, 0, &[0, 1, 2, 4, 5, 6, 7]);
        let kinds: Vec<_> = outs[2..].iter().map(id).collect();
        assert_eq!(kinds, vec![Some(0), Some(1), Some(2), None, Some(4)]);
        assert_eq!(outs[5], JitterOut::Lost);
        assert_eq!(jb.packets_lost(), 1);
    }

    #[test]
    fn late_packet_after_concealment_is_discarded() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 0, 0, &[0, 1, 2, 4, 5, 6, 7, 3, 8]);
        assert_eq!(outs[5], JitterOut::Lost);
        assert_eq!(frames(&outs), vec![0, 1, 2, 4, 5, 6]);
        assert_eq!(jb.packets_discarded(), 1);
    }

    #[test]
    fn seq_wrap() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 65530, 0, &(0..20).collect::<Vec<_>>());
        assert_eq!(frames(&outs), (0..18).collect::<Vec<_>>());
        assert_eq!(jb.packets_lost() + jb.packets_discarded() + jb.resyncs(), 0);
    }

    #[test]
    fn ts_wrap() {
        let mut jb = JitterBuffer::new(48000, 960);
        let mut outs = Vec::new();
        for i in 0..20u32 {
            jb.push(
                1000 + i as u16,
                (u32::MAX - 3000).wrapping_add(i * 960),
                p(i),
            );
            outs.push(jb.pop());
        }
        assert_eq!(frames(&outs), (0..18).collect::<Vec<_>>());
        assert_eq!(jb.resyncs(), 0);
    }

    #[test]
    fn pause_goes_empty_then_resumes() {
        let mut jb = JitterBuffer::new(8000, N);
        let outs = stream(&mut jb, 0, 0, &(0..10).collect::<Vec<_>>());
        assert_eq!(frames(&outs).len(), 8);
        let mut tail = Vec::new();
        for _ in 0..40 {
            tail.push(jb.pop());
        }
        // Two buffered frames, then ~10 concealed, then idle.
        assert_eq!(frames(&tail), vec![8, 9]);
        let lost = tail.iter().filter(|o| **o == JitterOut::Lost).count();
        assert_eq!(lost, IDLE_AFTER_MISSING as usize);
        assert_eq!(tail.last(), Some(&JitterOut::Empty));
        assert!(!jb.is_playing());
        // Resume 5 s later: seq continues, timestamp jumped.
        let mut outs = Vec::new();
        for i in 10..20u32 {
            jb.push(i as u16, 40000 + i * N, p(i));
            outs.push(jb.pop());
        }
        assert_eq!(outs[0], JitterOut::Empty);
        assert_eq!(frames(&outs), (10..18).collect::<Vec<_>>());
        assert_eq!(jb.packets_lost(), u64::from(IDLE_AFTER_MISSING));
    }

    #[test]
    fn resume_with_small_gap_while_idle_plays_new_packets() {
        let mut jb = JitterBuffer::new(8000, N);
        stream(&mut jb, 0, 0, &(0..5).collect::<Vec<_>>());
        for _ in 0..30 {
            jb.pop();
        }
        let outs = stream(&mut jb, 0, 0, &(40..50).collect::<Vec<_>>());
        assert_eq!(frames(&outs), (40..48).collect::<Vec<_>>());
    }

    #[test]
    fn new_ssrc_resyncs() {
        let mut jb = JitterBuffer::new(8000, N);
        stream(&mut jb, 0, 0, &(0..10).collect::<Vec<_>>());
        let outs = stream(&mut jb, 30000, 123_456_789, &(100..110).collect::<Vec<_>>());
        assert_eq!(jb.resyncs(), 1);
        assert_eq!(frames(&outs), (100..108).collect::<Vec<_>>());
        // Explicit reset also works.
        jb.reset();
        assert_eq!(jb.pop(), JitterOut::Empty);
    }

    #[test]
    fn timestamp_jump_resyncs() {
        let mut jb = JitterBuffer::new(8000, N);
        stream(&mut jb, 0, 0, &(0..10).collect::<Vec<_>>());
        jb.push(10, 10 * N + 80000, p(10));
        assert_eq!(jb.resyncs(), 1);
    }

    #[test]
    fn bounded_size_on_burst() {
        let mut jb = JitterBuffer::new(8000, N);
        for i in 0..200u32 {
            jb.push(i as u16, i * N, p(i));
        }
        assert!(jb.len() <= MAX_FRAMES as usize);
        assert!(jb.packets_discarded() > 100);
        let first = jb.pop();
        assert!(id(&first).unwrap() >= 150);
    }

    #[test]
    fn drift_correction_drops_frames() {
        let mut jb = JitterBuffer::new(8000, N);
        // Sender 10% faster than our ticks.
        let mut i = 0u32;
        for tick in 0..1000u32 {
            let pushes = if tick % 10 == 0 { 2 } else { 1 };
            for _ in 0..pushes {
                jb.push(i as u16, i * N, p(i));
                i += 1;
            }
            jb.pop();
        }
        assert!(jb.delay_frames() <= 10, "{}", jb.delay_frames());
        assert_eq!(jb.resyncs(), 0);
    }

    #[test]
    fn lone_packet_eventually_plays() {
        let mut jb = JitterBuffer::new(0, 0);
        jb.push(1, 1, p(1));
        let outs: Vec<_> = (0..4).map(|_| jb.pop()).collect();
        assert_eq!(frames(&outs), vec![1]);
    }
}
