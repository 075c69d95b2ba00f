//! Sending G.711 at the far end's `a=ptime` (40 or 60 ms): consecutive 20 ms
//! packets from the media pipeline are joined into one. Their sequence
//! numbers are renumbered so the far end sees no gaps; anything else (RFC 4733
//! events, other codecs, a timestamp jump) flushes what is pending and goes
//! out as it is.
//!
//! ```
//! use sipwire::audio::aggregate::Aggregator;
//! use rtc::rtp::{header::Header, packet::Packet};
//! let mut a = Aggregator::new(2, 1000);
//! let pkt = |seq, ts| Packet { header: Header { version: 2, payload_type: 0, sequence_number: seq, timestamp: ts, ..Default::default() }, payload: vec![0u8; 160].into() };
//! assert!(a.push(pkt(1, 0), &[0, 8]).is_empty());
//! let out = a.push(pkt(2, 160), &[0, 8]);
//! assert_eq!((out.len(), out[0].payload.len(), out[0].header.sequence_number), (1, 320, 1000));
//! ```

use bytes::{Bytes, BytesMut};
use rtc::rtp::packet::Packet;

/// See the module docs.
pub struct Aggregator {
    frames: usize,
    seq: u16,
    pending: Option<(Packet, BytesMut, usize)>,
}

impl Aggregator {
    /// Join `frames` 20 ms packets into one (1 = pass through); `seq0` is
    /// the first outgoing sequence number.
    pub fn new(frames: usize, seq0: u16) -> Self {
        Aggregator {
            frames: frames.clamp(1, 3),
            seq: seq0,
            pending: None,
        }
    }

    /// Frames per packet.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The sequence number the next packet sent will carry.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    fn stamp(&mut self, mut p: Packet) -> Packet {
        p.header.sequence_number = self.seq;
        self.seq = self.seq.wrapping_add(1);
        p
    }

    /// One packet from the pipeline; returns what to send now. `joinable`
    /// are the payload types that may be joined (G.711's).
    pub fn push(&mut self, pkt: Packet, joinable: &[u8]) -> Vec<Packet> {
        let mut out = Vec::new();
        let can_join = self.frames > 1 && joinable.contains(&pkt.header.payload_type);
        if let Some((first, buf, n)) = self.pending.take() {
            let next_ts = first.header.timestamp.wrapping_add(buf.len() as u32);
            if can_join
                && first.header.payload_type == pkt.header.payload_type
                && next_ts == pkt.header.timestamp
            {
                let mut buf = buf;
                buf.extend_from_slice(&pkt.payload);
                if n + 1 == self.frames {
                    let mut p = first;
                    p.payload = buf.freeze();
                    out.push(self.stamp(p));
                } else {
                    self.pending = Some((first, buf, n + 1));
                }
                return out;
            }
            let mut p = first;
            p.payload = buf.freeze();
            out.push(self.stamp(p));
        }
        if can_join {
            let buf = BytesMut::from(&pkt.payload[..]);
            let mut first = pkt;
            first.payload = Bytes::new();
            self.pending = Some((first, buf, 1));
        } else {
            out.push(self.stamp(pkt));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp::header::Header;

    fn pkt(pt: u8, seq: u16, ts: u32, len: usize) -> Packet {
        Packet {
            header: Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ..Default::default()
            },
            payload: vec![ts as u8; len].into(),
        }
    }

    #[test]
    fn joins_three_and_renumbers() {
        let mut a = Aggregator::new(3, 7);
        let mut out = Vec::new();
        for i in 0..6u32 {
            out.extend(a.push(pkt(0, 100 + i as u16, i * 160, 160), &[0]));
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].payload.len(), 480);
        assert_eq!((out[0].header.timestamp, out[1].header.timestamp), (0, 480));
        assert_eq!(
            (out[0].header.sequence_number, out[1].header.sequence_number),
            (7, 8)
        );
    }

    #[test]
    fn dtmf_flushes_and_passes() {
        let mut a = Aggregator::new(2, 0);
        assert!(a.push(pkt(0, 1, 0, 160), &[0]).is_empty());
        let out = a.push(pkt(101, 2, 160, 4), &[0]);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].payload.len(), out[1].header.payload_type),
            (160, 101)
        );
        assert_eq!(
            (out[0].header.sequence_number, out[1].header.sequence_number),
            (0, 1)
        );
    }

    #[test]
    fn pass_through_at_one_frame() {
        let mut a = Aggregator::new(1, 5);
        let out = a.push(pkt(0, 1, 0, 160), &[0]);
        assert_eq!((out.len(), out[0].header.sequence_number), (1, 5));
    }
}
