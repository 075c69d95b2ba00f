//! The IVF container (libvpx): a 32-byte file header, then each frame as a
//! 12-byte header (size, 64-bit timestamp) and its bytes. Timestamps here
//! are in the RTP clock (1/90000 s), which players and `ffprobe` honour.

/// The file header for `fourcc` (e.g. `VP80`) at `width`x`height`, with a
/// 1/90000 time base. `frames` is patched at the end when the file is seekable.
///
/// ```
/// let h = sipwire::video::ivf::file_header(*b"VP80", 640, 480, 0);
/// assert_eq!(&h[0..4], b"DKIF");
/// assert_eq!(h.len(), 32);
/// ```
pub fn file_header(fourcc: [u8; 4], width: u16, height: u16, frames: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(32);
    h.extend_from_slice(b"DKIF");
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(&fourcc);
    h.extend_from_slice(&width.to_le_bytes());
    h.extend_from_slice(&height.to_le_bytes());
    h.extend_from_slice(&90000u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&frames.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

/// Offset of the frame count in the file header.
pub const FRAME_COUNT_OFFSET: u64 = 24;

/// Append one frame (its header and bytes) to `out`.
pub fn push_frame(out: &mut Vec<u8>, pts: u64, frame: &[u8]) {
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&pts.to_le_bytes());
    out.extend_from_slice(frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_frame_layout() {
        let h = file_header(*b"VP80", 1280, 720, 7);
        assert_eq!(&h[8..12], b"VP80");
        assert_eq!(u16::from_le_bytes([h[12], h[13]]), 1280);
        assert_eq!(u16::from_le_bytes([h[14], h[15]]), 720);
        assert_eq!(u32::from_le_bytes(h[16..20].try_into().unwrap()), 90000);
        assert_eq!(u32::from_le_bytes(h[24..28].try_into().unwrap()), 7);
        let mut out = Vec::new();
        push_frame(&mut out, 3000, &[1, 2, 3]);
        assert_eq!(out.len(), 15);
        assert_eq!(u32::from_le_bytes(out[0..4].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(out[4..12].try_into().unwrap()), 3000);
    }
}
