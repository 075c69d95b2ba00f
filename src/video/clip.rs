//! Video clips to send: an IVF file (VP8) or an H.264 Annex B stream,
//! parsed wholly into memory before playback starts (off the media tick:
//! the caller loads on a worker thread). The frames keep their bitstream
//! untouched; timestamps are turned into the 90 kHz RTP clock.

use super::{h264, vp8, VideoCodec};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// Clips larger than this are refused: they are held in memory whole.
pub const MAX_CLIP_BYTES: u64 = 64 * 1024 * 1024;

/// Longest pause between two frames (90 kHz ticks): 10 s. A longer one is
/// refused rather than sent as a stall the far end would take for a failure.
const MAX_GAP: u64 = 10 * 90_000;

/// One frame of a clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClipFrame {
    /// Presentation time, 90 kHz ticks from the first frame.
    pub ts: u64,
    /// Whether a decoder can start here (VP8 key frame, H.264 IDR).
    pub key: bool,
    /// VP8: the frame, one unit. H.264: its NAL units without start codes
    /// (SPS and PPS first on every IDR, added when the file has them only once).
    pub units: Vec<Vec<u8>>,
}

/// A parsed clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clip {
    /// The codec of the bitstream.
    pub codec: VideoCodec,
    /// Frames in order; the first is a key frame.
    pub frames: Vec<ClipFrame>,
    /// Frame size from the first key frame's headers.
    pub width: u16,
    /// Frame size from the first key frame's headers.
    pub height: u16,
    /// 90 kHz ticks from the last frame to the loop's restart.
    pub last_duration: u64,
}

impl Clip {
    /// Average bitrate of one pass, in bit/s (payload only).
    pub fn average_bitrate(&self) -> u64 {
        let bytes: usize = self
            .frames
            .iter()
            .flat_map(|f| f.units.iter().map(Vec::len))
            .sum();
        let ms = self.duration_ms().max(1.0);
        (bytes as f64 * 8000.0 / ms) as u64
    }

    /// Length of one pass, in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        let end = self.frames.last().map_or(0, |f| f.ts) + self.last_duration;
        end as f64 / 90.0
    }
}

/// Read and parse `path`; `fps` paces Annex B streams, which carry no
/// timestamps. Errors name the file and what is wrong with it.
pub fn load(path: &str, fps: f64) -> Result<Clip, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.len() > MAX_CLIP_BYTES {
        return Err(format!(
            "{path}: {} bytes; video clips are held in memory and limited to {MAX_CLIP_BYTES} bytes",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    parse(&bytes, fps).map_err(|e| format!("{path}: {e}"))
}

/// [`load`], sharing the parsed clip between calls: a clip already in
/// memory (same path, size, modification time and `fps`) is reused rather
/// than read again, so a bot playing one greeting to many callers holds it
/// once. Entries go when the last call using them does.
pub fn load_shared(path: &str, fps: f64) -> Result<Arc<Clip>, String> {
    type Key = (String, u64);
    type Entry = (Option<std::time::SystemTime>, u64, Weak<Clip>);
    static CACHE: Mutex<Option<HashMap<Key, Entry>>> = Mutex::new(None);
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let stamp = (meta.modified().ok(), meta.len());
    let key = (path.to_string(), fps.to_bits());
    let cached = |c: &HashMap<Key, Entry>| {
        c.get(&key)
            .filter(|e| (e.0, e.1) == stamp)
            .and_then(|e| e.2.upgrade())
    };
    if let Some(clip) = CACHE.lock().ok().and_then(|c| c.as_ref().and_then(cached)) {
        return Ok(clip);
    }
    // Parsed outside the lock: another file may load meanwhile.
    let clip = Arc::new(load(path, fps)?);
    if let Ok(mut c) = CACHE.lock() {
        let map = c.get_or_insert_with(HashMap::new);
        map.retain(|_, e| e.2.strong_count() > 0);
        map.insert(key, (stamp.0, stamp.1, Arc::downgrade(&clip)));
    }
    Ok(clip)
}

/// Parse a clip from memory: IVF when it starts with `DKIF`, else H.264
/// Annex B when it starts with a start code.
///
/// ```
/// let ivf = sipwire::video::ivf::file_header(*b"VP80", 2, 2, 1);
/// let mut f = ivf.clone();
/// sipwire::video::ivf::push_frame(&mut f, 0, &[0x50, 0x42, 0, 0x9d, 0x01, 0x2a, 2, 0, 2, 0]);
/// let clip = sipwire::video::clip::parse(&f, 30.0).unwrap();
/// assert_eq!((clip.width, clip.height, clip.frames.len()), (2, 2, 1));
/// assert!(sipwire::video::clip::parse(&ivf, 30.0).is_err()); // no frames
/// ```
pub fn parse(bytes: &[u8], fps: f64) -> Result<Clip, String> {
    if bytes.starts_with(b"DKIF") {
        parse_ivf(bytes)
    } else if bytes.starts_with(&[0, 0, 1]) || bytes.starts_with(&[0, 0, 0, 1]) {
        if !(fps.is_finite() && (1.0..=240.0).contains(&fps)) {
            return Err(format!("fps must be between 1 and 240, got {fps}"));
        }
        parse_annexb(bytes, fps)
    } else {
        Err("not a video clip sipwire can send: expected IVF (VP8) or H.264 Annex B".into())
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn parse_ivf(b: &[u8]) -> Result<Clip, String> {
    if b.len() < 32 {
        return Err("truncated IVF header".into());
    }
    if &b[8..12] != b"VP80" {
        return Err(format!(
            "IVF of {:?}: only VP8 (VP80) can be sent",
            String::from_utf8_lossy(&b[8..12])
        ));
    }
    let header_len = (u16_at(b, 6) as usize).max(32);
    // Time base: `rate` units per second, each frame's pts counts `scale`s.
    let (rate, scale) = (u32_at(b, 16) as u64, u32_at(b, 20) as u64);
    if rate == 0 || scale == 0 {
        return Err("IVF time base of zero".into());
    }
    let mut frames: Vec<ClipFrame> = Vec::new();
    let mut at = header_len;
    let mut first_pts = None;
    while at + 12 <= b.len() {
        let size = u32_at(b, at) as usize;
        let pts = u64::from_le_bytes(b[at + 4..at + 12].try_into().unwrap_or_default());
        let Some(data) = b.get(at + 12..at + 12 + size) else {
            break; // a truncated last frame: keep what came before
        };
        at += 12 + size;
        if data.is_empty() {
            continue;
        }
        let Some((key, _)) = vp8::frame_info(data) else {
            return Err(format!("frame {} is not VP8", frames.len()));
        };
        if frames.is_empty() && !key {
            return Err("the first frame is not a key frame".into());
        }
        let first = *first_pts.get_or_insert(pts);
        let ts = (pts.saturating_sub(first) as u128 * 90_000 * scale as u128 / rate as u128) as u64;
        if frames.last().is_some_and(|l| ts <= l.ts) {
            return Err(format!(
                "frame {} has a timestamp out of order",
                frames.len()
            ));
        }
        if frames.last().is_some_and(|l| ts - l.ts > MAX_GAP) {
            return Err(format!(
                "frame {} comes more than 10 s after the one before",
                frames.len()
            ));
        }
        frames.push(ClipFrame {
            ts,
            key,
            units: vec![data.to_vec()],
        });
    }
    let Some(first) = frames.first() else {
        return Err("no frames".into());
    };
    let (width, height) = vp8::frame_info(&first.units[0])
        .and_then(|(_, s)| s)
        .unwrap_or((u16_at(b, 12), u16_at(b, 14)));
    let last_duration = match frames.len() {
        1 => 3000,
        n => frames[n - 1].ts / (n as u64 - 1),
    }
    .max(1);
    Ok(Clip {
        codec: VideoCodec::Vp8,
        frames,
        width,
        height,
        last_duration,
    })
}

/// Whether a NAL unit starts a new access unit after `au` (RFC 6184 needs
/// whole access units per timestamp; H.264 §7.4.1.2.3 gives the order).
fn starts_access_unit(nal: &[u8], au: &[Vec<u8>]) -> bool {
    let has_slice = au.iter().any(|n| matches!(n[0] & 0x1f, 1 | 5));
    if !has_slice {
        return false;
    }
    match nal[0] & 0x1f {
        // AUD, SEI, SPS, PPS come before the slices of their picture.
        6..=9 => true,
        // A slice with first_mb_in_slice = 0 (ue(v) "1") opens a picture.
        1 | 5 => nal.get(1).is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

fn parse_annexb(b: &[u8], fps: f64) -> Result<Clip, String> {
    let step = (90_000.0 / fps).round() as u64;
    let mut aus: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut cur: Vec<Vec<u8>> = Vec::new();
    for nal in h264::nal_units(b) {
        if starts_access_unit(nal, &cur) {
            aus.push(std::mem::take(&mut cur));
        }
        // Access unit delimiters carry nothing a receiver needs.
        if nal[0] & 0x1f != 9 {
            cur.push(nal.to_vec());
        }
    }
    if !cur.is_empty() {
        aus.push(cur);
    }
    let (mut sps, mut pps): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    let mut frames = Vec::with_capacity(aus.len());
    let mut size = None;
    for mut units in aus {
        let types: Vec<u8> = units.iter().map(|n| n[0] & 0x1f).collect();
        if !types.iter().any(|t| matches!(t, 1 | 5)) {
            continue; // parameter sets or SEI alone: kept for the next IDR
        }
        for n in &units {
            match n[0] & 0x1f {
                7 => {
                    size = size.or_else(|| h264::sps_size(&n[1..]));
                    sps = Some(n.clone());
                }
                8 => pps = Some(n.clone()),
                _ => {}
            }
        }
        let key = types.contains(&5);
        if key {
            // A receiver joining at this IDR (or after a PLI) needs the
            // parameter sets with it.
            let (Some(s), Some(p)) = (&sps, &pps) else {
                return Err("an IDR picture comes before its SPS and PPS".into());
            };
            if !types.contains(&8) {
                units.insert(0, p.clone());
            }
            if !types.contains(&7) {
                units.insert(0, s.clone());
            }
        }
        if frames.is_empty() && !key {
            return Err("the stream does not start with an IDR picture".into());
        }
        frames.push(ClipFrame {
            ts: frames.len() as u64 * step,
            key,
            units,
        });
    }
    if frames.is_empty() {
        return Err("no H.264 pictures".into());
    }
    let (width, height) = size.unwrap_or((0, 0));
    Ok(Clip {
        codec: VideoCodec::H264,
        frames,
        width,
        height,
        last_duration: step,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 10] = [0x50, 0x42, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];

    #[test]
    fn ivf_timestamps_become_the_rtp_clock() {
        // 1/30 s time base (rate 30, scale 1), as ffmpeg writes.
        let mut f = super::super::ivf::file_header(*b"VP80", 320, 240, 3);
        f[16..20].copy_from_slice(&30u32.to_le_bytes());
        for (pts, data) in [
            (0u64, &KEY[..]),
            (1, &[0x51, 0, 0][..]),
            (2, &[0x51, 1, 1][..]),
        ] {
            super::super::ivf::push_frame(&mut f, pts, data);
        }
        let c = parse(&f, 30.0).unwrap();
        assert_eq!(c.codec, VideoCodec::Vp8);
        assert_eq!((c.width, c.height), (320, 240));
        let ts: Vec<u64> = c.frames.iter().map(|f| f.ts).collect();
        assert_eq!(ts, [0, 3000, 6000]);
        assert_eq!(c.last_duration, 3000);
        assert!(c.frames[0].key && !c.frames[1].key);
        assert_eq!(c.duration_ms(), 100.0);
        // Starting on an inter frame, another fourcc, garbage: refused.
        let mut g = super::super::ivf::file_header(*b"VP80", 320, 240, 1);
        super::super::ivf::push_frame(&mut g, 0, &[0x51, 0, 0]);
        assert!(parse(&g, 30.0).unwrap_err().contains("key frame"));
        let vp9 = super::super::ivf::file_header(*b"VP90", 320, 240, 0);
        assert!(parse(&vp9, 30.0).unwrap_err().contains("VP8"));
        assert!(parse(b"hello", 30.0).is_err());
        assert!(parse(&[0, 0, 1, 0x65], 0.0).unwrap_err().contains("fps"));
    }

    #[test]
    fn a_clip_in_use_is_shared_until_its_file_changes() {
        let dir = std::env::temp_dir().join(format!("sipwire-clip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.ivf");
        let mut f = super::super::ivf::file_header(*b"VP80", 320, 240, 1);
        super::super::ivf::push_frame(&mut f, 0, &KEY);
        std::fs::write(&path, &f).unwrap();
        let p = path.to_str().unwrap();
        let a = load_shared(p, 30.0).unwrap();
        let b = load_shared(p, 30.0).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "read once");
        super::super::ivf::push_frame(&mut f, 1, &[0x51, 0, 0]);
        std::fs::write(&path, &f).unwrap();
        let c = load_shared(p, 30.0).unwrap();
        assert_eq!(c.frames.len(), 2, "the new file, not the cached one");
        drop((a, b, c));
        assert!(load_shared(dir.join("missing.ivf").to_str().unwrap(), 30.0).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn annexb_splits_access_units_and_repeats_parameter_sets() {
        let sps = [0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let mut s = Vec::new();
        let mut nal = |n: &[u8]| {
            s.extend_from_slice(&[0, 0, 0, 1]);
            s.extend_from_slice(n);
        };
        nal(&[0x09, 0xf0]); // AUD
        nal(&sps);
        nal(&pps);
        nal(&[0x65, 0x88, 1]); // IDR, first_mb 0
        nal(&[0x65, 0x20, 2]); // second slice of the same picture
        nal(&[0x41, 0x9a, 3]); // P picture
        nal(&[0x65, 0x88, 4]); // IDR without parameter sets
        let c = parse(&s, 25.0).unwrap();
        assert_eq!(c.codec, VideoCodec::H264);
        assert_eq!(c.frames.len(), 3);
        assert_eq!(c.frames[0].units.len(), 4, "SPS, PPS, two slices");
        assert_eq!(c.frames[1].units, vec![vec![0x41, 0x9a, 3]]);
        assert_eq!(c.frames[2].units[0], sps.to_vec(), "SPS repeated");
        assert_eq!(c.frames[2].units[1], pps.to_vec());
        assert_eq!(c.frames[2].ts, 7200);
        assert!(c.frames[2].key && !c.frames[1].key);
        assert!(c.width > 0 && c.height > 0);
        // A stream starting with a P picture is refused.
        assert!(parse(&[0, 0, 1, 0x41, 0x9a], 30.0).is_err());
    }
}
