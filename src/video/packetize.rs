//! Whole frames to RTP payloads: VP8 (RFC 7741 §4.2 payload descriptor)
//! and H.264 (RFC 6184 §5.6 single NAL unit, §5.8 FU-A; packetization-mode
//! 1). The inverse of [`super::vp8::depacketize`] and
//! [`super::h264::Depacketizer`].

/// Largest RTP payload we produce: with the 12-byte RTP header, SRTP's
/// 10-byte tag, UDP/IP and an RTX prefix, a packet stays well under a
/// 1280-byte IPv6 minimum MTU (and any tunnel's) without path MTU discovery.
pub const MAX_PAYLOAD: usize = 1200;

/// The RTP payloads of one VP8 frame, each at most `max` bytes. Every
/// payload carries a descriptor with the 15-bit `picture_id` (RFC 7741
/// §4.2, I=1, M=1): receivers order frames by it; S=1 marks the first.
///
/// ```
/// let p = sipwire::video::packetize::vp8(&[1, 2, 3, 4, 5], 7, 5);
/// assert_eq!(p.len(), 5); // 4 descriptor bytes leave one byte of data per packet
/// assert_eq!(&p[0][..], &[0x90, 0x80, 0x80, 0x07, 1]);
/// assert_eq!(p[1][0], 0x80); // S=0 on the continuations
/// ```
pub fn vp8(frame: &[u8], picture_id: u16, max: usize) -> Vec<Vec<u8>> {
    const HEADER: usize = 4;
    let room = max.saturating_sub(HEADER).max(1);
    let pid = picture_id & 0x7fff;
    let mut out = Vec::with_capacity(frame.len() / room + 1);
    for (i, chunk) in frame.chunks(room).enumerate() {
        let mut p = Vec::with_capacity(HEADER + chunk.len());
        // X=1; S=1 on the first packet; PID (partition index) 0.
        p.push(if i == 0 { 0x90 } else { 0x80 });
        p.push(0x80); // I: a PictureID follows
        p.push(0x80 | (pid >> 8) as u8); // M=1: 15 bits
        p.push(pid as u8);
        p.extend_from_slice(chunk);
        out.push(p);
    }
    out
}

/// The RTP payloads of one H.264 NAL unit (without its start code): the
/// unit itself when it fits in `max` bytes, else FU-A fragments.
///
/// ```
/// let big = [0x65u8; 10];
/// let p = sipwire::video::packetize::h264(&big, 6);
/// assert_eq!(p[0][..2], [0x7c, 0x85]); // FU indicator (NRI 3, type 28), S + type 5
/// assert_eq!(p.last().unwrap()[1], 0x45); // E + type 5
/// assert_eq!(sipwire::video::packetize::h264(&[0x67, 1], 6), vec![vec![0x67, 1]]);
/// ```
pub fn h264(nal: &[u8], max: usize) -> Vec<Vec<u8>> {
    let Some((&header, body)) = nal.split_first() else {
        return vec![];
    };
    if nal.len() <= max {
        return vec![nal.to_vec()];
    }
    let room = max.saturating_sub(2).max(1);
    let indicator = (header & 0xe0) | 28;
    let typ = header & 0x1f;
    let n = body.len().div_ceil(room);
    body.chunks(room)
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = Vec::with_capacity(2 + chunk.len());
            p.push(indicator);
            let mut fu = typ;
            if i == 0 {
                fu |= 0x80;
            }
            if i + 1 == n {
                fu |= 0x40;
            }
            p.push(fu);
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn vp8_round_trips_through_our_depacketizer() {
        let frame: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let payloads = vp8(&frame, 0x1234, MAX_PAYLOAD);
        assert_eq!(payloads.len(), 5);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            assert_eq!(super::super::vp8::starts_frame(p), i == 0);
            let (start, data) = super::super::vp8::depacketize(&Bytes::from(p.clone())).unwrap();
            assert_eq!(start, i == 0);
            out.extend_from_slice(&data);
            // The picture id survives: 15 bits, big-endian after the M bit.
            assert_eq!(u16::from_be_bytes([p[2], p[3]]) & 0x7fff, 0x1234);
        }
        assert_eq!(out, frame);
        // A tiny frame is one packet.
        assert_eq!(vp8(&[9], 1, MAX_PAYLOAD).len(), 1);
    }

    #[test]
    fn h264_round_trips_single_units_and_fragments() {
        let idr: Vec<u8> = std::iter::once(0x65)
            .chain((0..4000u32).map(|i| (i % 251) as u8 | 1))
            .collect();
        let sps = [0x67, 0x42, 0xc0, 0x1e];
        let mut d = super::super::h264::Depacketizer::default();
        let mut out = Vec::new();
        let mut packets = h264(&sps, MAX_PAYLOAD);
        assert_eq!(packets.len(), 1);
        let frags = h264(&idr, MAX_PAYLOAD);
        assert_eq!(frags.len(), 4);
        assert!(frags.iter().all(|p| p.len() <= MAX_PAYLOAD && p[0] == 0x7c));
        assert!(super::super::h264::starts_frame(&frags[0]));
        assert!(!super::super::h264::starts_frame(&frags[1]));
        packets.extend(frags);
        for p in &packets {
            d.push(p, &mut out).unwrap();
        }
        let mut want = vec![0, 0, 0, 1];
        want.extend_from_slice(&sps);
        want.extend_from_slice(&[0, 0, 0, 1]);
        want.extend_from_slice(&idr);
        assert_eq!(out, want);
        assert!(h264(&[], MAX_PAYLOAD).is_empty());
    }
}
