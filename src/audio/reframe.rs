//! Received G.711 packets of any length (10-60 ms, `a=ptime` of phones and
//! trunks) cut or joined into the 20 ms frames the jitter buffer and the
//! media tick work in.
//!
//! G.711 is one byte per sample, so a frame is any 160 bytes on the
//! timestamp grid. Once a stream sends a packet that is not 20 ms, its frames
//! get sequence numbers derived from their timestamps (`ts / 160`), which
//! keeps the jitter buffer's ordering and loss detection meaningful whatever
//! the packet size. Streams of 20 ms packets pass through untouched.
//!
//! ```
//! use sipwire::audio::reframe::Reframer;
//! let mut r = Reframer::default();
//! let mut out = Vec::new();
//! r.push(7, 1000, &bytes::Bytes::from(vec![0u8; 480]), 160, &mut |seq, ts, p| out.push((seq, ts, p.len())));
//! assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [1000, 1160, 1320]);
//! ```

use bytes::Bytes;

/// See the module docs.
#[derive(Debug, Default)]
pub struct Reframer {
    /// Set once a packet of another length was seen.
    active: bool,
    /// A partial frame: its timestamp and bytes so far.
    partial: Option<(u32, Vec<u8>)>,
}

impl Reframer {
    /// True once the stream needed reframing.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// One received packet (`seq`, `ts`, `payload`); each 20 ms frame of
    /// `frame` bytes goes to `emit(seq, ts, payload)`.
    pub fn push(
        &mut self,
        seq: u16,
        ts: u32,
        payload: &Bytes,
        frame: usize,
        emit: &mut dyn FnMut(u16, u32, Bytes),
    ) {
        if frame == 0 {
            return;
        }
        if !self.active && payload.len() == frame {
            // The packet's own buffer: no copy on the common path.
            emit(seq, ts, payload.clone());
            return;
        }
        self.active = true;
        let step = frame as u32;
        let mut ts = ts;
        let mut rest: &[u8] = payload;
        if let Some((pts, mut buf)) = self.partial.take() {
            // Only a continuation on the timestamp grid completes it.
            if pts.wrapping_add(buf.len() as u32) == ts {
                let need = (frame - buf.len()).min(rest.len());
                buf.extend_from_slice(&rest[..need]);
                rest = &rest[need..];
                ts = ts.wrapping_add(need as u32);
                if buf.len() == frame {
                    emit((pts / step) as u16, pts, Bytes::from(buf));
                } else {
                    self.partial = Some((pts, buf));
                    return;
                }
            }
        }
        while rest.len() >= frame {
            // Whole frames are slices of the packet's buffer.
            let at = payload.len() - rest.len();
            emit((ts / step) as u16, ts, payload.slice(at..at + frame));
            rest = &rest[frame..];
            ts = ts.wrapping_add(step);
        }
        if !rest.is_empty() {
            self.partial = Some((ts, rest.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Reframer, packets: &[(u16, u32, usize)]) -> Vec<(u16, u32, usize)> {
        let mut out = Vec::new();
        for &(seq, ts, len) in packets {
            let p: Vec<u8> = (0..len).map(|i| (ts as usize + i) as u8).collect();
            r.push(seq, ts, &Bytes::from(p), 160, &mut |s, t, b| {
                // Bytes stay on the grid: the first byte is the timestamp's.
                assert_eq!(b[0], t as u8);
                out.push((s, t, b.len()))
            });
        }
        out
    }

    #[test]
    fn twenty_ms_passes_through() {
        let mut r = Reframer::default();
        let out = run(&mut r, &[(5, 0, 160), (6, 160, 160)]);
        assert_eq!(out, [(5, 0, 160), (6, 160, 160)]);
        assert!(!r.is_active());
    }

    #[test]
    fn ten_ms_packets_are_joined() {
        let mut r = Reframer::default();
        let out = run(
            &mut r,
            &[(1, 800, 80), (2, 880, 80), (3, 960, 80), (4, 1040, 80)],
        );
        assert_eq!(out, [(5, 800, 160), (6, 960, 160)]);
    }

    #[test]
    fn thirty_forty_sixty_ms_packets_are_cut() {
        let mut r = Reframer::default();
        let out = run(&mut r, &[(1, 0, 240), (2, 240, 240)]);
        assert_eq!(out, [(0, 0, 160), (1, 160, 160), (2, 320, 160)]);
        let mut r = Reframer::default();
        let out = run(&mut r, &[(9, 1600, 480)]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2], (12, 1920, 160));
    }

    #[test]
    fn a_gap_drops_the_partial_frame() {
        let mut r = Reframer::default();
        let out = run(&mut r, &[(1, 0, 80), (3, 320, 160)]);
        assert_eq!(out, [(2, 320, 160)]);
    }
}
