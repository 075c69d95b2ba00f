//! H.264 (RFC 6184, packetization-mode 1): RTP payloads to Annex B NAL
//! units, and the picture size from a sequence parameter set.
//!
//! Written here rather than reusing rtc's `H264Packet`: its STAP-A loop
//! indexes past the end of a truncated aggregate (a panic on bad input).

const START: [u8; 4] = [0, 0, 0, 1];
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Reassembles one stream's NAL units in Annex B form.
#[derive(Default)]
pub struct Depacketizer {
    /// A fragmented NAL unit in progress (FU-A), Annex B start code included.
    fu: Option<Vec<u8>>,
}

impl Depacketizer {
    /// Forget a half-received fragmented unit (a frame was lost).
    pub fn reset(&mut self) {
        self.fu = None;
    }

    /// Append the NAL units of one payload to `out` (Annex B). Fragments are
    /// held until their last piece. Errors name what was malformed.
    ///
    /// ```
    /// let mut d = sipwire::video::h264::Depacketizer::default();
    /// let mut out = Vec::new();
    /// d.push(&[0x65, 0xaa], &mut out).unwrap();
    /// assert_eq!(out, [0, 0, 0, 1, 0x65, 0xaa]);
    /// ```
    pub fn push(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
        let Some(&b0) = payload.first() else {
            return Err("empty H.264 payload");
        };
        match b0 & 0x1f {
            1..=23 => {
                out.extend_from_slice(&START);
                out.extend_from_slice(payload);
            }
            STAP_A => {
                let mut rest = &payload[1..];
                while !rest.is_empty() {
                    if rest.len() < 2 {
                        return Err("truncated STAP-A size");
                    }
                    let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                    let Some(nal) = rest.get(2..2 + n) else {
                        return Err("STAP-A unit longer than the packet");
                    };
                    if n > 0 {
                        out.extend_from_slice(&START);
                        out.extend_from_slice(nal);
                    }
                    rest = &rest[2 + n..];
                }
            }
            FU_A => {
                if payload.len() < 3 {
                    return Err("short FU-A");
                }
                let fu = payload[1];
                if fu & 0x80 != 0 {
                    let mut v = Vec::with_capacity(1500);
                    v.extend_from_slice(&START);
                    v.push((b0 & 0xe0) | (fu & 0x1f));
                    self.fu = Some(v);
                }
                let Some(buf) = self.fu.as_mut() else {
                    return Err("FU-A continuation without its start");
                };
                buf.extend_from_slice(&payload[2..]);
                if fu & 0x40 != 0 {
                    if let Some(buf) = self.fu.take() {
                        out.extend_from_slice(&buf);
                    }
                }
            }
            _ => return Err("unsupported NAL unit type (STAP-B, MTAP, FU-B)"),
        }
        Ok(())
    }
}

/// Whether a payload can begin a frame (an unfragmented unit, or the first
/// fragment of one).
pub fn starts_frame(payload: &[u8]) -> bool {
    match payload.first().map(|b| b & 0x1f) {
        Some(FU_A) => payload.get(1).is_some_and(|b| b & 0x80 != 0),
        Some(1..=24) => true,
        _ => false,
    }
}

/// The NAL units of an Annex B buffer (start codes removed).
pub fn nal_units(annexb: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= annexb.len() {
        if annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| {
            let mut e = s - 3;
            while e > 0 && annexb[e - 1] == 0 {
                e -= 1;
            }
            e
        })
        .chain(std::iter::once(annexb.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .filter(|(s, e)| s < e)
        .map(move |(s, e)| &annexb[s..e])
}

/// Whether an access unit holds an IDR slice, and the picture size if it
/// carries a sequence parameter set.
pub fn frame_info(annexb: &[u8]) -> (bool, Option<(u16, u16)>) {
    let mut key = false;
    let mut size = None;
    for nal in nal_units(annexb) {
        match nal[0] & 0x1f {
            5 => key = true,
            7 => size = size.or_else(|| sps_size(&nal[1..])),
            _ => {}
        }
    }
    (key, size)
}

struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn new(rbsp_with_epb: &[u8]) -> Self {
        // Remove emulation prevention bytes (00 00 03).
        let mut data = Vec::with_capacity(rbsp_with_epb.len());
        let mut zeros = 0;
        for &b in rbsp_with_epb {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            data.push(b);
        }
        Bits { data, pos: 0 }
    }
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.bits(zeros)? as u64) as u32)
    }
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

/// Width and height in pixels from a sequence parameter set (the NAL unit
/// without its header byte), cropping applied (ITU-T H.264 §7.3.2.1.1).
///
/// ```
/// // x264's SPS for 320x240, high profile.
/// let sps = [
///     0x64, 0x00, 0x0c, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
///     0x10, 0x00, 0x00, 0x03, 0x01, 0x40, 0xf1, 0x42, 0x99, 0x60,
/// ];
/// assert_eq!(sipwire::video::h264::sps_size(&sps), Some((320, 240)));
/// ```
pub fn sps_size(sps: &[u8]) -> Option<(u16, u16)> {
    let mut r = Bits::new(sps);
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    let mut chroma = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma = r.ue()?;
        if chroma == 3 {
            r.bit()?;
        }
        r.ue()?;
        r.ue()?;
        r.bit()?;
        if r.bit()? == 1 {
            for i in 0..if chroma == 3 { 12 } else { 8 } {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = r.ue()? as u64 + 1;
    let h_units = r.ue()? as u64 + 1;
    let frame_mbs_only = r.bit()? as u64;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.bit()? == 1 {
        cl = r.ue()? as u64;
        cr = r.ue()? as u64;
        ct = r.ue()? as u64;
        cb = r.ue()? as u64;
    }
    let (sub_w, sub_h) = match chroma {
        0 => (1, 1),
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let unit_y = sub_h * (2 - frame_mbs_only);
    let w = (w_mbs * 16).checked_sub((cl + cr) * sub_w)?;
    let h = ((2 - frame_mbs_only) * h_units * 16).checked_sub((ct + cb) * unit_y)?;
    Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_stap_a_and_fu_a() {
        let mut d = Depacketizer::default();
        let mut out = Vec::new();
        // STAP-A with SPS (2 bytes) and PPS (1 byte).
        d.push(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68], &mut out)
            .unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68]);
        out.clear();
        // FU-A of an IDR slice in three pieces.
        d.push(&[0x7c, 0x85, 1, 2], &mut out).unwrap();
        d.push(&[0x7c, 0x05, 3], &mut out).unwrap();
        assert!(out.is_empty());
        d.push(&[0x7c, 0x45, 4], &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 1, 2, 3, 4]);
        assert!(frame_info(&out).0);
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        let mut d = Depacketizer::default();
        let mut out = Vec::new();
        assert!(d.push(&[], &mut out).is_err());
        assert!(d.push(&[0x78, 0], &mut out).is_err());
        assert!(d.push(&[0x78, 0, 9, 1], &mut out).is_err());
        assert!(d.push(&[0x7c, 0x05, 3], &mut out).is_err());
        assert!(d.push(&[0x7c], &mut out).is_err());
        assert!(d.push(&[0x1f, 1, 2], &mut out).is_err());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = d.push(&junk, &mut out);
            let _ = sps_size(&junk);
            let _ = frame_info(&junk);
        }
    }

    #[test]
    fn sps_sizes() {
        // x264 constrained baseline 640x480 (ffmpeg testsrc).
        let sps = [
            0x42, 0xc0, 0x16, 0xd9, 0x00, 0xa0, 0x3d, 0xb0, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01,
            0x00, 0x00, 0x03, 0x00, 0x14, 0x0f, 0x16, 0x2e, 0x48,
        ];
        assert_eq!(sps_size(&sps), Some((640, 480)));
        // High profile 1920x1080 (cropped from 1088).
        let high = [
            0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00,
            0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x50, 0x3c, 0x60, 0xc6, 0x58,
        ];
        assert_eq!(sps_size(&high), Some((1920, 1080)));
        let mut annexb = vec![0, 0, 0, 1, 0x67];
        annexb.extend_from_slice(&sps);
        annexb.extend_from_slice(&[0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88]);
        assert_eq!(nal_units(&annexb).count(), 3);
        assert_eq!(frame_info(&annexb), (true, Some((640, 480))));
    }
}
