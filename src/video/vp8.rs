//! VP8 (RFC 7741): the payload descriptor is parsed by rtc's `Vp8Packet`;
//! this module adds what rtc does not: where a frame starts, and whether a
//! frame is a key frame and its size (RFC 6386 §9.1 frame tag and header).

use bytes::Bytes;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;

/// The VP8 data of one RTP payload, and whether it starts a frame (S=1,
/// partition 0). `None` for a malformed descriptor.
///
/// ```
/// let (start, data) = sipwire::video::vp8::depacketize(&bytes::Bytes::from_static(&[0x10, 1, 2, 3])).unwrap();
/// assert!(start);
/// assert_eq!(&data[..], &[1, 2, 3]);
/// ```
pub fn depacketize(payload: &Bytes) -> Option<(bool, Bytes)> {
    // A fresh descriptor each time: rtc's parser leaves the optional
    // fields of the previous packet set when they are absent.
    let mut d = Vp8Packet::default();
    let data = d.depacketize(payload).ok()?;
    Some((d.s == 1 && d.pid == 0, data))
}

/// Whether a frame's first payload byte can start a frame.
pub fn starts_frame(payload: &[u8]) -> bool {
    payload
        .first()
        .is_some_and(|b| b & 0x10 != 0 && b & 0x07 == 0)
}

/// Key frame and its size in pixels (RFC 6386 §9.1), from a whole frame.
/// Returns `(is_key, Some((width, height)))` for a key frame with a valid
/// start code, `(false, None)` for an inter frame, `None` if too short.
///
/// ```
/// // A 640x480 key frame header.
/// let f = [0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
/// assert_eq!(sipwire::video::vp8::frame_info(&f), Some((true, Some((640, 480)))));
/// ```
pub fn frame_info(frame: &[u8]) -> Option<(bool, Option<(u16, u16)>)> {
    let tag = *frame.first()?;
    if tag & 0x01 != 0 {
        return Some((false, None));
    }
    if frame.len() < 10 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((true, Some((w, h))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_with_extensions_and_continuation() {
        // X=1, S=1, PID=0; I=1 with a 15-bit picture id; then VP8 data.
        let p = Bytes::from_static(&[0x90, 0x80, 0x81, 0x23, 0xaa, 0xbb]);
        let (start, data) = depacketize(&p).unwrap();
        assert!(start);
        assert_eq!(&data[..], &[0xaa, 0xbb]);
        // S=0: continuation. Short I-less descriptor after an I one: not
        // confused by the previous packet.
        let q = Bytes::from_static(&[0x00, 0xcc, 0xdd, 0xee]);
        let (start, data) = depacketize(&q).unwrap();
        assert!(!start);
        assert_eq!(&data[..], &[0xcc, 0xdd, 0xee]);
        assert!(depacketize(&Bytes::from_static(&[0x90])).is_none());
        assert!(starts_frame(&[0x10]) && !starts_frame(&[0x11]) && !starts_frame(&[0x00]));
    }

    #[test]
    fn key_and_inter_frames() {
        assert_eq!(frame_info(&[0x01, 0, 0]), Some((false, None)));
        assert_eq!(frame_info(&[0x00, 0, 0, 1, 2, 3, 0, 0, 0, 0]), None);
        assert_eq!(frame_info(&[]), None);
        // Scaling bits (top two) are not part of the size.
        let f = [0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0xc1, 0x68, 0x01];
        assert_eq!(frame_info(&f), Some((true, Some((320, 360)))));
    }
}
