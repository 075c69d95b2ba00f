//! RTP packets to whole frames, sans-IO: time comes in as `Instant`s.
//!
//! Packets are grouped by RTP timestamp. A frame is complete when every
//! sequence number from its first packet (the one after the previous
//! frame's last, or a codec frame start when that is unknown) to its marker
//! packet is present. Frames leave in order. A gap in sequence numbers asks
//! for those packets (NACK), again every [`NACK_RETRY`] while their frame can
//! still be completed (a NACK or its retransmission can be lost too); a
//! frame still incomplete after
//! [`MAX_WAIT`] while later ones wait is dropped, and from then on only a
//! key frame is let through (the caller sends PLI/FIR), so what is written
//! stays decodable.

use super::{h264, vp8, VideoCodec};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How long an incomplete frame may hold back the ones after it (a NACK
/// round trip and a retransmission on a real network).
pub const MAX_WAIT: Duration = Duration::from_millis(300);
/// Frames held back at most, whatever their age.
const MAX_PENDING: usize = 60;
/// A larger jump in sequence numbers is a new stream, not loss.
const MAX_NACK_GAP: u64 = 128;
/// Sequence numbers remembered as already NACKed.
const NACK_MEMORY: usize = 512;
/// Time between two NACKs for one missing packet: a round trip on most
/// networks, so [`MAX_WAIT`] leaves room for the first ask and two more.
pub const NACK_RETRY: Duration = Duration::from_millis(100);
/// NACKs sent for one packet at most, the first included.
const NACK_TRIES: u8 = 3;

/// One assembled frame.
#[derive(Debug, PartialEq)]
pub struct Frame {
    /// Extended RTP timestamp (no wrap), 90 kHz.
    pub timestamp: u64,
    /// VP8 frame, or an H.264 access unit in Annex B.
    pub data: Vec<u8>,
    /// Key frame (VP8 key frame, H.264 IDR).
    pub key: bool,
    /// Picture size from the bitstream, when this frame carries it.
    pub size: Option<(u16, u16)>,
}

/// What the assembler asks of its caller.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// A frame, in order.
    Frame(Frame),
    /// Ask for these sequence numbers again (RFC 4585 generic NACK).
    Nack(Vec<u16>),
    /// A frame was lost for good: ask for a key frame (PLI or FIR).
    KeyFrameNeeded,
}

struct Pending {
    timestamp: u64,
    first_arrival: Instant,
    /// Extended sequence number -> (payload, marker).
    packets: BTreeMap<u64, (Bytes, bool)>,
}

impl Pending {
    fn end(&self) -> Option<u64> {
        self.packets.iter().find(|(_, (_, m))| *m).map(|(s, _)| *s)
    }
}

/// Reassembles one SSRC's frames.
pub struct Assembler {
    codec: VideoCodec,
    highest: Option<u64>,
    last_ts: Option<u64>,
    /// Last sequence number of the last frame emitted or dropped.
    prev_end: Option<u64>,
    /// Timestamp of the last frame emitted or dropped.
    done_ts: Option<u64>,
    pending: VecDeque<Pending>,
    nacked: VecDeque<u64>,
    /// Missing packets still worth asking for again: (extended sequence
    /// number, last asked, times asked), in sequence order.
    outstanding: VecDeque<(u64, Instant, u8)>,
    need_key: bool,
    h264: h264::Depacketizer,
    /// Frames dropped (lost, or not decodable until the next key frame).
    pub frames_dropped: u64,
    /// Packets that never arrived (counted when their frame is given up).
    pub packets_lost: u64,
    /// Packets that arrived after being NACKed (retransmissions, over RTX or not).
    pub repaired: u64,
}

fn extend(last: Option<u64>, v: u64, bits: u32) -> u64 {
    let Some(last) = last else {
        return v + (1u64 << bits); // headroom so a slightly older value stays positive
    };
    let modulus = 1u64 << bits;
    let half = modulus / 2;
    let base = last & !(modulus - 1);
    let cand = base | v;
    if cand + half < last {
        cand + modulus
    } else if cand > last + half && cand >= modulus {
        cand - modulus
    } else {
        cand
    }
}

impl Assembler {
    /// A new assembler for `codec`.
    pub fn new(codec: VideoCodec) -> Self {
        Assembler {
            codec,
            highest: None,
            last_ts: None,
            prev_end: None,
            done_ts: None,
            pending: VecDeque::new(),
            nacked: VecDeque::new(),
            outstanding: VecDeque::new(),
            need_key: true,
            h264: h264::Depacketizer::default(),
            frames_dropped: 0,
            packets_lost: 0,
            repaired: 0,
        }
    }

    /// The codec this assembler was made for.
    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// One RTP packet (retransmissions included, already unwrapped).
    ///
    /// ```
    /// use sipwire::video::{assembler::{Assembler, Output}, VideoCodec};
    /// let mut a = Assembler::new(VideoCodec::Vp8);
    /// let now = std::time::Instant::now();
    /// let key = bytes::Bytes::from_static(&[0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
    /// let mut out = Vec::new();
    /// a.on_packet(now, 7, 3000, true, key, &mut out);
    /// assert!(matches!(&out[0], Output::Frame(f) if f.key && f.size == Some((320, 240))));
    /// ```
    pub fn on_packet(
        &mut self,
        now: Instant,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: Bytes,
        out: &mut Vec<Output>,
    ) {
        let seq = extend(self.highest, seq as u64, 16);
        let ts = extend(self.last_ts, ts as u64, 32);
        if self.prev_end.is_some_and(|e| seq <= e) || self.done_ts.is_some_and(|d| ts <= d) {
            return; // late or duplicate
        }
        if self.highest.is_some_and(|h| seq < h) && self.nacked.contains(&seq) {
            self.repaired += 1;
            self.outstanding.retain(|(s, _, _)| *s != seq);
        }
        match self.highest {
            Some(h) if seq > h + 1 && seq - h - 1 <= MAX_NACK_GAP => {
                let missing: Vec<u16> = (h + 1..seq)
                    .filter(|s| !self.nacked.contains(s))
                    .map(|s| s as u16)
                    .collect();
                for s in h + 1..seq {
                    if self.nacked.len() >= NACK_MEMORY {
                        self.nacked.pop_front();
                    }
                    self.nacked.push_back(s);
                    if self.outstanding.len() >= NACK_MEMORY {
                        self.outstanding.pop_front();
                    }
                    self.outstanding.push_back((s, now, 1));
                }
                if !missing.is_empty() {
                    out.push(Output::Nack(missing));
                }
            }
            Some(h) if seq > h + MAX_NACK_GAP => {
                // A jump: a new stream or a long outage. Start over.
                self.reset_after_jump();
            }
            _ => {}
        }
        if self.highest.is_none_or(|h| seq > h) {
            self.highest = Some(seq);
        }
        if self.last_ts.is_none_or(|l| ts > l) {
            self.last_ts = Some(ts);
        }
        let at = self.pending.iter().position(|p| p.timestamp >= ts);
        match at {
            Some(i) if self.pending[i].timestamp == ts => {
                self.pending[i].packets.insert(seq, (payload, marker));
            }
            _ => {
                let mut packets = BTreeMap::new();
                packets.insert(seq, (payload, marker));
                let p = Pending {
                    timestamp: ts,
                    first_arrival: now,
                    packets,
                };
                match at {
                    Some(i) => self.pending.insert(i, p),
                    None => self.pending.push_back(p),
                }
            }
        }
        self.drain(now, out);
    }

    /// Give up on frames that waited too long and ask again for packets
    /// still missing; call every media tick.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.drain(now, out);
        self.renack(now, out);
    }

    /// One NACK for every missing packet last asked for [`NACK_RETRY`] ago,
    /// up to [`NACK_TRIES`] asks each; packets whose frame was given up (at
    /// or before `prev_end`) are forgotten.
    fn renack(&mut self, now: Instant, out: &mut Vec<Output>) {
        if let Some(done) = self.prev_end {
            while self.outstanding.front().is_some_and(|(s, _, _)| *s <= done) {
                self.outstanding.pop_front();
            }
        }
        let mut again = Vec::new();
        for (seq, asked, tries) in self.outstanding.iter_mut() {
            if now.saturating_duration_since(*asked) >= NACK_RETRY {
                *asked = now;
                *tries += 1;
                again.push(*seq as u16);
            }
        }
        self.outstanding.retain(|(_, _, tries)| *tries < NACK_TRIES);
        if !again.is_empty() {
            out.push(Output::Nack(again));
        }
    }

    fn reset_after_jump(&mut self) {
        self.prev_end = None;
        self.outstanding.clear();
        self.frames_dropped += self.pending.len() as u64;
        self.pending.clear();
        self.need_key = true;
    }

    /// First and last sequence numbers of the head frame, if it is complete.
    fn complete_head(&self) -> Option<(u64, u64)> {
        let head = self.pending.front()?;
        let end = head.end()?;
        let (&first, (payload, _)) = head.packets.iter().next()?;
        let start = match self.prev_end {
            Some(e) => e + 1,
            None => {
                let ok = match self.codec {
                    VideoCodec::Vp8 => vp8::starts_frame(payload),
                    VideoCodec::H264 => h264::starts_frame(payload),
                };
                if !ok {
                    return None;
                }
                first
            }
        };
        (first == start
            && end >= start
            && head.packets.range(start..=end).count() as u64 == end - start + 1)
            .then_some((start, end))
    }

    fn drain(&mut self, now: Instant, out: &mut Vec<Output>) {
        loop {
            if let Some((_, end)) = self.complete_head() {
                let Some(head) = self.pending.pop_front() else {
                    return;
                };
                self.prev_end = Some(end);
                self.done_ts = Some(head.timestamp);
                match self.assemble(&head, end) {
                    Some(f) if f.key || !self.need_key => {
                        self.need_key = false;
                        out.push(Output::Frame(f));
                    }
                    Some(_) => self.frames_dropped += 1,
                    None => {
                        self.frames_dropped += 1;
                        self.lost(out);
                    }
                }
                continue;
            }
            let Some(head) = self.pending.front() else {
                return;
            };
            let stale = now.saturating_duration_since(head.first_arrival) >= MAX_WAIT
                || self.pending.len() > MAX_PENDING;
            if !stale {
                return;
            }
            let Some(head) = self.pending.pop_front() else {
                return;
            };
            // Everything up to the next frame's first packet belongs to the
            // lost frame, so the next one can still be checked for completeness.
            let first = head.packets.keys().next().copied().unwrap_or(0);
            let end = head.end().or_else(|| {
                self.pending
                    .front()
                    .and_then(|n| n.packets.keys().next().map(|s| s - 1))
            });
            if let Some(e) = end {
                let start = self.prev_end.map_or(first, |p| p + 1);
                self.packets_lost += (e + 1)
                    .saturating_sub(start)
                    .saturating_sub(head.packets.len() as u64);
            }
            self.prev_end = end;
            self.done_ts = Some(head.timestamp);
            self.frames_dropped += 1;
            self.lost(out);
        }
    }

    fn lost(&mut self, out: &mut Vec<Output>) {
        self.h264.reset();
        self.need_key = true;
        out.push(Output::KeyFrameNeeded);
    }

    fn assemble(&mut self, p: &Pending, end: u64) -> Option<Frame> {
        let mut data = Vec::new();
        match self.codec {
            VideoCodec::Vp8 => {
                for (_, (payload, _)) in p.packets.range(..=end) {
                    let (_, d) = vp8::depacketize(payload)?;
                    data.extend_from_slice(&d);
                }
                let (key, size) = vp8::frame_info(&data)?;
                Some(Frame {
                    timestamp: p.timestamp,
                    data,
                    key,
                    size,
                })
            }
            VideoCodec::H264 => {
                self.h264.reset();
                for (_, (payload, _)) in p.packets.range(..=end) {
                    self.h264.push(payload, &mut data).ok()?;
                }
                if data.is_empty() {
                    return None;
                }
                let (key, size) = h264::frame_info(&data);
                Some(Frame {
                    timestamp: p.timestamp,
                    data,
                    key,
                    size,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = &[0x00, 0x00, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];

    /// A VP8 frame of `n` packets: descriptor (S on the first) + bytes.
    fn vp8_frame(key: bool, n: usize) -> Vec<Bytes> {
        (0..n)
            .map(|i| {
                let mut v = vec![if i == 0 { 0x10 } else { 0x00 }];
                if i == 0 {
                    if key {
                        v.extend_from_slice(KEY);
                    } else {
                        v.extend_from_slice(&[0x01, 0, 0, 7]);
                    }
                } else {
                    v.extend_from_slice(&[i as u8; 5]);
                }
                Bytes::from(v)
            })
            .collect()
    }

    struct Feed {
        a: Assembler,
        now: Instant,
        out: Vec<Output>,
    }

    impl Feed {
        fn new() -> Self {
            Feed {
                a: Assembler::new(VideoCodec::Vp8),
                now: Instant::now(),
                out: vec![],
            }
        }
        fn send(&mut self, seq: u16, ts: u32, marker: bool, p: Bytes) {
            self.a
                .on_packet(self.now, seq, ts, marker, p, &mut self.out);
        }
        fn frame(&mut self, first_seq: u16, ts: u32, key: bool, n: usize, skip: Option<usize>) {
            for (i, p) in vp8_frame(key, n).into_iter().enumerate() {
                if Some(i) != skip {
                    self.send(first_seq.wrapping_add(i as u16), ts, i + 1 == n, p);
                }
            }
        }
        fn frames(&mut self) -> Vec<(u64, bool)> {
            self.out
                .drain(..)
                .filter_map(|o| match o {
                    Output::Frame(f) => Some((f.timestamp, f.key)),
                    _ => None,
                })
                .collect()
        }
    }

    #[test]
    fn in_order_frames_across_sequence_wrap() {
        let mut f = Feed::new();
        f.frame(65533, 1000, true, 3, None);
        f.frame(0, 4000, false, 2, None);
        f.frame(2, 7000, false, 1, None);
        let got = f.frames();
        assert_eq!(got.len(), 3);
        assert!(got[0].1 && !got[1].1);
        assert_eq!(got[1].0 - got[0].0, 3000);
        assert_eq!(f.a.frames_dropped, 0);
    }

    #[test]
    fn reordered_packets_and_nack_repair() {
        let mut f = Feed::new();
        f.frame(100, 0, true, 2, None);
        // Frame 2's middle packet is missing: a NACK for exactly it, nothing emitted.
        f.frame(102, 3000, false, 3, Some(1));
        let nacks: Vec<&Output> = f
            .out
            .iter()
            .filter(|o| matches!(o, Output::Nack(_)))
            .collect();
        assert_eq!(nacks, vec![&Output::Nack(vec![103])]);
        assert_eq!(f.frames().len(), 1);
        f.frame(105, 6000, false, 1, None);
        assert!(f.frames().is_empty(), "held behind the incomplete frame");
        // The retransmission fills the gap: both frames come out, in order.
        f.send(103, 3000, false, vp8_frame(false, 3)[1].clone());
        assert_eq!(f.frames(), vec![(4294970296, false), (4294973296, false)]);
        assert_eq!(f.a.repaired, 1);
    }

    #[test]
    fn a_lost_nack_or_retransmission_is_asked_for_again() {
        let mut f = Feed::new();
        f.frame(100, 0, true, 2, None);
        f.frame(102, 3000, false, 3, Some(1));
        let nacks = |f: &mut Feed| -> Vec<Vec<u16>> {
            f.out
                .drain(..)
                .filter_map(|o| match o {
                    Output::Nack(s) => Some(s),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(nacks(&mut f), vec![vec![103]]);
        // Nothing came back: asked again one NACK_RETRY later, not before.
        f.now += NACK_RETRY - Duration::from_millis(1);
        let now = f.now;
        f.a.tick(now, &mut f.out);
        assert!(nacks(&mut f).is_empty());
        f.now += Duration::from_millis(1);
        let now = f.now;
        f.a.tick(now, &mut f.out);
        assert_eq!(nacks(&mut f), vec![vec![103]]);
        // The second retransmission arrives: repaired, and no further ask.
        f.send(103, 3000, false, vp8_frame(false, 3)[1].clone());
        assert_eq!(f.frames().len(), 1);
        assert_eq!(f.a.repaired, 1);
        f.now += NACK_RETRY;
        let now = f.now;
        f.a.tick(now, &mut f.out);
        assert!(nacks(&mut f).is_empty());

        // A packet that never comes: NACK_TRIES asks in all, then the frame
        // is given up after MAX_WAIT and nothing more is asked.
        let mut f = Feed::new();
        f.frame(100, 0, true, 2, None);
        f.frame(102, 3000, false, 3, Some(1));
        f.frame(105, 6000, false, 1, None);
        let mut asks = nacks(&mut f).len();
        for _ in 0..10 {
            f.now += NACK_RETRY;
            let now = f.now;
            f.a.tick(now, &mut f.out);
            asks += nacks(&mut f).len();
        }
        assert_eq!(asks, usize::from(NACK_TRIES));
        assert_eq!(
            f.a.frames_dropped, 2,
            "the incomplete frame, then the delta frame behind it"
        );
    }

    #[test]
    fn unrecoverable_loss_drops_until_a_key_frame() {
        let mut f = Feed::new();
        f.frame(0, 0, true, 1, None);
        f.frame(1, 3000, false, 2, Some(0));
        f.frame(3, 6000, false, 1, None);
        assert_eq!(f.frames().len(), 1);
        f.now += MAX_WAIT;
        f.a.tick(f.now, &mut f.out);
        assert!(f.out.contains(&Output::KeyFrameNeeded));
        assert!(
            f.frames().is_empty(),
            "the inter frame after a loss is not decodable"
        );
        f.frame(4, 9000, true, 2, None);
        f.frame(6, 12000, false, 1, None);
        let got = f.frames();
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![true, false]
        );
        assert_eq!(f.a.frames_dropped, 2);
        assert_eq!(f.a.packets_lost, 1);
    }

    #[test]
    fn joining_mid_frame_waits_for_a_frame_start_then_a_key_frame() {
        let mut f = Feed::new();
        let pk = vp8_frame(false, 2);
        f.send(50, 0, true, pk[1].clone()); // tail of a frame
        f.frame(51, 3000, false, 1, None);
        f.frame(52, 6000, true, 1, None);
        f.now += MAX_WAIT;
        f.a.tick(f.now, &mut f.out);
        let got = f.frames();
        assert_eq!(got, vec![(4294973296, true)]);
        // Duplicates and late packets are ignored.
        f.frame(52, 6000, true, 1, None);
        assert!(f.frames().is_empty());
    }

    #[test]
    fn h264_frames() {
        let mut a = Assembler::new(VideoCodec::H264);
        let now = Instant::now();
        let mut out = Vec::new();
        a.on_packet(
            now,
            1,
            90,
            false,
            Bytes::from_static(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]),
            &mut out,
        );
        a.on_packet(
            now,
            2,
            90,
            false,
            Bytes::from_static(&[0x7c, 0x85, 1]),
            &mut out,
        );
        a.on_packet(
            now,
            3,
            90,
            true,
            Bytes::from_static(&[0x7c, 0x45, 2]),
            &mut out,
        );
        a.on_packet(now, 4, 180, true, Bytes::from_static(&[0x41, 9]), &mut out);
        let frames: Vec<&Frame> = out
            .iter()
            .filter_map(|o| match o {
                Output::Frame(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(frames.len(), 2);
        assert!(frames[0].key && !frames[1].key);
        assert_eq!(
            frames[0].data,
            [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0, 0, 0, 1, 0x65, 1, 2]
        );
    }
}
