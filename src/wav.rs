//! Minimal WAV (RIFF/WAVE) reading and writing.
//!
//! Used to play prompt files into calls and to record received audio.
//! [`read_wav`] accepts the common variants (PCM 8/16/24/32-bit, IEEE float
//! 32/64-bit, G.711 mu-law (format 7) and A-law (format 6), the usual
//! encoding of telephony prompt libraries, `WAVE_FORMAT_EXTENSIBLE` with any
//! of those as subformat, any channel count, which is downmixed to mono by
//! averaging), skips unknown chunks such as `LIST` and `fact`, and rejects
//! anything else with a descriptive error. [`WavWriter`] streams mono audio
//! as 16-bit PCM, mu-law or A-law ([`WavFormat`]) and patches the header
//! sizes at the end. Pure byte-slice / `Write + Seek` based; no file system
//! access here.
//!
//! One file (over 600 lines) on purpose: about 300 lines are the reader and
//! writer of one format, sharing the header layout; the rest are tests.

use std::io::{Seek, SeekFrom, Write};

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
const HEADER_LEN: u64 = 44;

/// How [`WavWriter`] stores samples.
///
/// ```
/// use sipwire::wav::{read_wav, WavFormat, WavWriter};
/// let mut w = WavWriter::with_format(std::io::Cursor::new(Vec::new()), 8000, WavFormat::Pcmu).unwrap();
/// w.write_samples(&[0, 1000, -1000]).unwrap();
/// let bytes = w.finish().unwrap().into_inner();
/// assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 7); // WAVE_FORMAT_MULAW
/// assert_eq!(read_wav(&bytes).unwrap().samples.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WavFormat {
    /// 16-bit linear PCM (format tag 1).
    #[default]
    S16,
    /// G.711 mu-law, 8 bits a sample (format tag 7).
    Pcmu,
    /// G.711 A-law, 8 bits a sample (format tag 6).
    Pcma,
}

impl WavFormat {
    /// Parses `"s16"`, `"pcmu"` (or `"ulaw"`, `"mulaw"`) and `"pcma"` (or `"alaw"`), case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "s16" | "pcm" => Some(Self::S16),
            "pcmu" | "ulaw" | "mulaw" | "mu-law" => Some(Self::Pcmu),
            "pcma" | "alaw" | "a-law" => Some(Self::Pcma),
            _ => None,
        }
    }

    fn tag(self) -> u16 {
        match self {
            Self::S16 => FORMAT_PCM,
            Self::Pcmu => FORMAT_MULAW,
            Self::Pcma => FORMAT_ALAW,
        }
    }

    fn bytes_per_sample(self) -> u64 {
        match self {
            Self::S16 => 2,
            Self::Pcmu | Self::Pcma => 1,
        }
    }

    /// Header length: PCM gets the classic 44 bytes; G.711 gets an 18-byte
    /// `fmt ` (cbSize 0) and the `fact` chunk that non-PCM formats carry,
    /// as sox writes them.
    fn header_len(self) -> u64 {
        match self {
            Self::S16 => HEADER_LEN,
            Self::Pcmu | Self::Pcma => 58,
        }
    }
}
/// Largest data chunk a RIFF header can describe.
const MAX_DATA: u64 = u32::MAX as u64 - 36;

/// Errors from WAV parsing and writing.
#[derive(thiserror::Error, Debug)]
pub enum WavError {
    /// The input does not start with a `RIFF....WAVE` header.
    #[error("not a RIFF/WAVE file")]
    NotWav,
    /// The input ends in the middle of a structure.
    #[error("truncated WAV file: {0}")]
    Truncated(&'static str),
    /// A required chunk is absent.
    #[error("WAV file has no {0} chunk")]
    MissingChunk(&'static str),
    /// The `fmt ` chunk is inconsistent (zero channels/rate, bad alignment).
    #[error("invalid WAV format: {0}")]
    InvalidFormat(&'static str),
    /// A valid but unsupported encoding.
    #[error("unsupported WAV encoding: format tag {format:#06x}, {bits} bits per sample")]
    Unsupported {
        /// Format tag (or extensible subformat).
        format: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// The data would exceed the 4 GiB RIFF limit.
    #[error("WAV data too large")]
    TooLarge,
    /// I/O error from the underlying writer.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Decoded mono audio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavAudio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub samples: Vec<i16>,
}

#[derive(Clone, Copy, Debug)]
struct Fmt {
    format: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn parse_fmt(body: &[u8]) -> Result<Fmt, WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated("fmt chunk shorter than 16 bytes"));
    }
    let field = |i| u16_at(body, i).unwrap_or(0);
    let mut fmt = Fmt {
        format: field(0),
        channels: field(2),
        sample_rate: u32_at(body, 4).unwrap_or(0),
        block_align: field(12),
        bits: field(14),
    };
    if fmt.format == FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16)
        if body.len() < 40 {
            return Err(WavError::Truncated("WAVE_FORMAT_EXTENSIBLE fmt chunk"));
        }
        fmt.format = field(24);
    }
    if fmt.channels == 0 {
        return Err(WavError::InvalidFormat("zero channels"));
    }
    if fmt.sample_rate == 0 {
        return Err(WavError::InvalidFormat("zero sample rate"));
    }
    let supported = matches!(
        (fmt.format, fmt.bits),
        (FORMAT_PCM, 8 | 16 | 24 | 32) | (FORMAT_FLOAT, 32 | 64) | (FORMAT_ALAW | FORMAT_MULAW, 8)
    );
    if !supported {
        return Err(WavError::Unsupported {
            format: fmt.format,
            bits: fmt.bits,
        });
    }
    let min_align = u32::from(fmt.channels) * u32::from(fmt.bits / 8);
    if u32::from(fmt.block_align) < min_align {
        return Err(WavError::InvalidFormat(
            "block align smaller than one sample frame",
        ));
    }
    Ok(fmt)
}

fn sample_value(fmt: &Fmt, b: &[u8]) -> f64 {
    match (fmt.format, fmt.bits) {
        (FORMAT_PCM, 8) => (f64::from(b[0]) - 128.0) * 256.0,
        (FORMAT_PCM, 16) => f64::from(i16::from_le_bytes([b[0], b[1]])),
        (FORMAT_PCM, 24) => f64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 16),
        (FORMAT_PCM, 32) => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 65536.0,
        (FORMAT_FLOAT, 32) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])) * 32768.0,
        (FORMAT_MULAW, 8) => f64::from(crate::audio::g711::ulaw_decode(b[0])),
        (FORMAT_ALAW, 8) => f64::from(crate::audio::g711::alaw_decode(b[0])),
        (FORMAT_FLOAT, 64) => {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) * 32768.0
        }
        _ => 0.0,
    }
}

fn decode(fmt: &Fmt, data: &[u8]) -> Vec<i16> {
    let width = usize::from(fmt.bits / 8);
    let channels = usize::from(fmt.channels);
    data.chunks_exact(usize::from(fmt.block_align))
        .map(|frame| {
            let sum: f64 = (0..channels)
                .map(|c| sample_value(fmt, &frame[c * width..(c + 1) * width]))
                .map(|v| if v.is_finite() { v } else { 0.0 })
                .sum();
            (sum / channels as f64).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Parses a WAV file from memory into mono 16-bit samples.
pub fn read_wav(bytes: &[u8]) -> Result<WavAudio, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut fmt = None;
    let mut data = None;
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4).unwrap_or(0);
        let body_start = pos + 8;
        let available = bytes.len() - body_start;
        match id {
            b"fmt " => {
                if size as usize > available {
                    return Err(WavError::Truncated("fmt chunk"));
                }
                fmt = Some(parse_fmt(&bytes[body_start..body_start + size as usize])?);
            }
            b"data" => {
                // 0xFFFFFFFF is used by streaming writers: "until the end".
                let len = if size == u32::MAX {
                    available
                } else if size as usize > available {
                    return Err(WavError::Truncated("data chunk"));
                } else {
                    size as usize
                };
                data = Some(&bytes[body_start..body_start + len]);
                if size == u32::MAX {
                    break;
                }
            }
            _ => {
                if size as usize > available {
                    break; // trailing junk / truncated metadata: ignore
                }
            }
        }
        // Chunks are word aligned: odd sizes are followed by a pad byte.
        pos = body_start
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
    let fmt = fmt.ok_or(WavError::MissingChunk("fmt "))?;
    let data = data.ok_or(WavError::MissingChunk("data"))?;
    Ok(WavAudio {
        sample_rate: fmt.sample_rate,
        samples: decode(&fmt, data),
    })
}

fn header(sample_rate: u32, data_len: u32) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h.copy_from_slice(&header_for(WavFormat::S16, sample_rate, data_len, 1));
    h
}

/// The header of a file of `channels` interleaved channels in `format` with
/// `data_len` bytes of samples.
pub(crate) fn header_for(
    format: WavFormat,
    sample_rate: u32,
    data_len: u32,
    channels: u16,
) -> Vec<u8> {
    let bps = format.bytes_per_sample() as u16;
    let align = bps * channels;
    let g711 = format != WavFormat::S16;
    let mut h = Vec::with_capacity(format.header_len() as usize);
    h.extend_from_slice(b"RIFF");
    let riff = data_len.saturating_add(format.header_len() as u32 - 8);
    h.extend_from_slice(&riff.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&(if g711 { 18u32 } else { 16 }).to_le_bytes());
    h.extend_from_slice(&format.tag().to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&sample_rate.to_le_bytes());
    h.extend_from_slice(&sample_rate.wrapping_mul(u32::from(align)).to_le_bytes());
    h.extend_from_slice(&align.to_le_bytes());
    h.extend_from_slice(&(bps * 8).to_le_bytes());
    if g711 {
        h.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        h.extend_from_slice(&(data_len / u32::from(align)).to_le_bytes()); // sample frames
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Encodes mono 16-bit samples as a complete in-memory WAV file.
pub fn encode_wav(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let n = samples.len().min(MAX_DATA as usize / 2);
    let mut out = Vec::with_capacity(HEADER_LEN as usize + n * 2);
    out.extend_from_slice(&header(sample_rate, (n * 2) as u32));
    for s in &samples[..n] {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Streams mono audio into a WAV file as 16-bit PCM, mu-law or A-law.
///
/// The header is written with zero sizes and patched by
/// [`finish`](Self::finish) (or, best effort, on drop).
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: Option<W>,
    start: u64,
    sample_rate: u32,
    format: WavFormat,
    channels: u16,
    data_bytes: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes a 44-byte 16-bit PCM header at the writer's current position.
    pub fn new(w: W, sample_rate: u32) -> Result<Self, WavError> {
        Self::with_format(w, sample_rate, WavFormat::S16)
    }

    /// Writes the header of a `format` file at the writer's current position.
    pub fn with_format(w: W, sample_rate: u32, format: WavFormat) -> Result<Self, WavError> {
        Self::with_channels(w, sample_rate, format, 1)
    }

    /// Writes the header of a `format` file of `channels` interleaved
    /// channels (1 or 2) at the writer's current position; samples are then
    /// written interleaved (left, right, left, ...).
    pub fn with_channels(
        mut w: W,
        sample_rate: u32,
        format: WavFormat,
        channels: u16,
    ) -> Result<Self, WavError> {
        if !(1..=2).contains(&channels) {
            return Err(WavError::InvalidFormat("only 1 or 2 channels are written"));
        }
        let start = w.stream_position()?;
        w.write_all(&header_for(format, sample_rate, 0, channels))?;
        Ok(Self {
            inner: Some(w),
            start,
            sample_rate,
            format,
            channels,
            data_bytes: 0,
        })
    }

    /// Sample rate given at construction.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Sample encoding given at construction.
    pub fn format(&self) -> WavFormat {
        self.format
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.data_bytes / self.format.bytes_per_sample()
    }

    /// Appends samples.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let add = samples.len() as u64 * self.format.bytes_per_sample();
        if self.data_bytes + add > MAX_DATA {
            return Err(WavError::TooLarge);
        }
        let Some(w) = self.inner.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::with_capacity(add as usize);
        match self.format {
            WavFormat::S16 => {
                for s in samples {
                    buf.extend_from_slice(&s.to_le_bytes());
                }
            }
            WavFormat::Pcmu => crate::audio::g711::encode_ulaw(samples, &mut buf),
            WavFormat::Pcma => crate::audio::g711::encode_alaw(samples, &mut buf),
        }
        w.write_all(&buf)?;
        self.data_bytes += add;
        Ok(())
    }

    fn patch(&mut self) -> Result<(), WavError> {
        let Some(w) = self.inner.as_mut() else {
            return Ok(());
        };
        let data = self.data_bytes as u32;
        let header = header_for(self.format, self.sample_rate, data, self.channels);
        w.seek(SeekFrom::Start(self.start))?;
        w.write_all(&header)?;
        w.seek(SeekFrom::Start(
            self.start + self.format.header_len() + self.data_bytes,
        ))?;
        w.flush()?;
        Ok(())
    }

    /// Patches the RIFF and data sizes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, WavError> {
        self.patch()?;
        self.inner.take().ok_or(WavError::Io(std::io::Error::other(
            "writer already finished",
        )))
    }
}

impl<W: Write + Seek> Drop for WavWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() {
            if let Err(e) = self.patch() {
                log::warn!("wav: failed to patch header on drop: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        if body.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    fn fmt_body(format: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut b = Vec::new();
        b.extend_from_slice(&format.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(&body);
        v
    }

    #[test]
    fn round_trip_encode_and_writer() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 16000) as i16).collect();
        let bytes = encode_wav(&samples, 8000);
        assert_eq!(bytes.len(), 44 + 2000);
        let a = read_wav(&bytes).unwrap();
        assert_eq!(a.sample_rate, 8000);
        assert_eq!(a.samples, samples);

        let mut w = WavWriter::new(Cursor::new(Vec::new()), 48000).unwrap();
        w.write_samples(&samples[..400]).unwrap();
        w.write_samples(&samples[400..]).unwrap();
        assert_eq!(w.samples_written(), 1000);
        let out = w.finish().unwrap().into_inner();
        assert_eq!(&out[..], &encode_wav(&samples, 48000)[..]);
    }

    #[test]
    fn writer_patches_on_drop() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = WavWriter::new(&mut buf, 16000).unwrap();
            w.write_samples(&[1, 2, 3]).unwrap();
        }
        let a = read_wav(buf.get_ref()).unwrap();
        assert_eq!(a.samples, vec![1, 2, 3]);
        assert_eq!(a.sample_rate, 16000);
    }

    #[test]
    fn stereo_downmix_and_formats() {
        let mut d16 = Vec::new();
        for (l, r) in [(1000i16, 3000i16), (-100, 100), (i16::MAX, i16::MAX)] {
            d16.extend_from_slice(&l.to_le_bytes());
            d16.extend_from_slice(&r.to_le_bytes());
        }
        let a = read_wav(&riff(&[
            chunk(b"fmt ", &fmt_body(1, 2, 44100, 16)),
            chunk(b"data", &d16),
        ]))
        .unwrap();
        assert_eq!(a.samples, vec![2000, 0, i16::MAX]);
        assert_eq!(a.sample_rate, 44100);

        let a = read_wav(&riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 8)),
            chunk(b"data", &[128, 0, 255]),
        ]))
        .unwrap();
        assert_eq!(a.samples, vec![0, -32768, 32512]);

        let mut f = Vec::new();
        for v in [0.5f32, -1.0, 2.0] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        let a = read_wav(&riff(&[
            chunk(b"fmt ", &fmt_body(3, 1, 48000, 32)),
            chunk(b"data", &f),
        ]))
        .unwrap();
        assert_eq!(a.samples, vec![16384, -32768, 32767]);

        let a = read_wav(&riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 24)),
            chunk(b"data", &[0, 0, 0x40, 0, 0, 0xC0]),
        ]))
        .unwrap();
        assert_eq!(a.samples, vec![16384, -16384]);
    }

    #[test]
    fn extensible_pcm() {
        let mut fmt = fmt_body(FORMAT_EXTENSIBLE, 2, 16000, 16);
        fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        fmt.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        fmt.extend_from_slice(&3u32.to_le_bytes()); // channel mask
        fmt.extend_from_slice(&[
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38,
            0x9B, 0x71,
        ]);
        let mut d = Vec::new();
        for v in [100i16, 300, -50, -150] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        let a = read_wav(&riff(&[chunk(b"fmt ", &fmt), chunk(b"data", &d)])).unwrap();
        assert_eq!(a.samples, vec![200, -100]);
        assert_eq!(a.sample_rate, 16000);
        // Truncated extensible fmt.
        let short = riff(&[chunk(b"fmt ", &fmt[..30]), chunk(b"data", &d)]);
        assert!(matches!(read_wav(&short), Err(WavError::Truncated(_))));
    }

    #[test]
    fn skips_unknown_and_odd_chunks() {
        let a = read_wav(&riff(&[
            chunk(b"LIST", b"INFOsome metadata"),
            chunk(b"junk", &[1, 2, 3]), // odd size, padded
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
            chunk(b"odd ", &[9]),
            chunk(b"data", &[1, 0, 2, 0]),
            chunk(b"LIST", b"trailing"),
        ]))
        .unwrap();
        assert_eq!(a.samples, vec![1, 2]);
        // data before fmt also works
        let a = read_wav(&riff(&[
            chunk(b"data", &[5, 0]),
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
        ]))
        .unwrap();
        assert_eq!(a.samples, vec![5]);
    }

    #[test]
    fn garbage_and_truncated() {
        assert!(matches!(read_wav(b""), Err(WavError::NotWav)));
        assert!(matches!(
            read_wav(b"hello world, not a wav file"),
            Err(WavError::NotWav)
        ));
        assert!(matches!(
            read_wav(b"RIFF\0\0\0\0WAVX"),
            Err(WavError::NotWav)
        ));
        assert!(matches!(
            read_wav(b"RIFF\0\0\0\0WAVE"),
            Err(WavError::MissingChunk("fmt "))
        ));
        let full = encode_wav(&[1, 2, 3, 4], 8000);
        for cut in 0..full.len() - 8 {
            assert!(read_wav(&full[..cut]).is_err(), "cut {cut}");
        }
        let no_data = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 8000, 16))]);
        assert!(matches!(
            read_wav(&no_data),
            Err(WavError::MissingChunk("data"))
        ));
        let adpcm = riff(&[
            chunk(b"fmt ", &fmt_body(2, 1, 8000, 4)),
            chunk(b"data", &[0; 4]),
        ]);
        assert!(matches!(
            read_wav(&adpcm),
            Err(WavError::Unsupported { format: 2, bits: 4 })
        ));
        let zero_ch = riff(&[
            chunk(b"fmt ", &fmt_body(1, 0, 8000, 16)),
            chunk(b"data", &[0; 4]),
        ]);
        assert!(matches!(
            read_wav(&zero_ch),
            Err(WavError::InvalidFormat(_))
        ));
        // Pseudo-random garbage after a valid RIFF header never panics.
        let mut x: u32 = 12345;
        for len in 0..300 {
            let mut g = b"RIFF\0\0\0\0WAVE".to_vec();
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                g.push((x >> 16) as u8);
            }
            let _ = read_wav(&g);
        }
    }

    /// Files as sox writes them (`sox -n -r 8000 -e mu-law out.wav synth 1
    /// sine 800`, and `-e a-law`): 18-byte fmt, a fact chunk, 8-bit G.711.
    #[test]
    fn reads_sox_mulaw_and_alaw() {
        for bytes in [
            &include_bytes!("../__test__/fixtures/sox-800hz-mulaw.wav")[..],
            &include_bytes!("../__test__/fixtures/sox-800hz-alaw.wav")[..],
        ] {
            let a = read_wav(bytes).unwrap();
            assert_eq!(a.sample_rate, 8000);
            assert_eq!(a.samples.len(), 8000);
            let f = crate::tone::dominant_frequency(&a.samples, 8000).unwrap();
            assert!((f - 800.0).abs() < 5.0, "heard {f} Hz");
            let peak = a.samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
            // `sox out.wav -n stat` reports a maximum amplitude of 0.667847
            // (mu-law; A-law quantises the same peak to 0.6719).
            assert!(
                (f64::from(peak) / 32768.0 - 0.67).abs() < 0.005,
                "peak {peak}"
            );
        }
    }

    #[test]
    fn g711_writer_round_trip_and_header() {
        let samples = crate::tone::sine(800.0, 8000, 1600, 16000);
        for (format, tag, decode) in [
            (
                WavFormat::Pcmu,
                7u16,
                crate::audio::g711::ulaw_decode as fn(u8) -> i16,
            ),
            (WavFormat::Pcma, 6, crate::audio::g711::alaw_decode),
        ] {
            let mut w = WavWriter::with_format(Cursor::new(Vec::new()), 8000, format).unwrap();
            w.write_samples(&samples[..1000]).unwrap();
            w.write_samples(&samples[1000..]).unwrap();
            assert_eq!(w.samples_written(), 1600);
            let out = w.finish().unwrap().into_inner();
            // The header sox writes for the same format, byte for byte.
            let sox = match format {
                WavFormat::Pcmu => {
                    &include_bytes!("../__test__/fixtures/sox-800hz-mulaw.wav")[..58]
                }
                _ => &include_bytes!("../__test__/fixtures/sox-800hz-alaw.wav")[..58],
            };
            let mut want = header_for(format, 8000, 8000, 1);
            assert_eq!(&want[..], sox, "{format:?} header as sox writes it");
            want = header_for(format, 8000, 1600, 1);
            assert_eq!(&out[..58], &want[..]);
            assert_eq!(u16::from_le_bytes([out[20], out[21]]), tag);
            assert_eq!(out.len(), 58 + 1600);
            let back = read_wav(&out).unwrap();
            assert_eq!(back.sample_rate, 8000);
            // Each sample is the G.711 quantisation of the input.
            let quantised: Vec<i16> = out[58..].iter().map(|&b| decode(b)).collect();
            assert_eq!(back.samples, quantised);
            let err = samples
                .iter()
                .zip(&back.samples)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap();
            assert!(err < 600, "{format:?}: G.711 error {err}");
        }
        // Patched on drop too, and extensible with a mu-law subformat reads.
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = WavWriter::with_format(&mut buf, 16000, WavFormat::Pcma).unwrap();
            w.write_samples(&[0, 5000, -5000]).unwrap();
        }
        assert_eq!(read_wav(buf.get_ref()).unwrap().samples.len(), 3);
        let mut fmt = fmt_body(FORMAT_EXTENSIBLE, 1, 8000, 8);
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&8u16.to_le_bytes());
        fmt.extend_from_slice(&4u32.to_le_bytes());
        fmt.extend_from_slice(&[
            7, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
        let a = read_wav(&riff(&[
            chunk(b"fmt ", &fmt),
            chunk(b"data", &[0xFF, 0x7F]),
        ]))
        .unwrap();
        assert_eq!(
            a.samples,
            vec![
                crate::audio::g711::ulaw_decode(0xFF),
                crate::audio::g711::ulaw_decode(0x7F)
            ]
        );
        assert_eq!(WavFormat::parse("PCMU"), Some(WavFormat::Pcmu));
        assert_eq!(WavFormat::parse("alaw"), Some(WavFormat::Pcma));
        assert_eq!(WavFormat::parse("s16"), Some(WavFormat::S16));
        assert_eq!(WavFormat::parse("gsm"), None);
        // 16-bit G.711 is not a thing: rejected with the tag named.
        let bad = riff(&[
            chunk(b"fmt ", &fmt_body(7, 1, 8000, 16)),
            chunk(b"data", &[0; 4]),
        ]);
        assert!(matches!(
            read_wav(&bad),
            Err(WavError::Unsupported {
                format: 7,
                bits: 16
            })
        ));
    }

    #[test]
    fn streaming_data_size() {
        let mut bytes = encode_wav(&[7, 8], 8000);
        bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.push(0); // odd trailing byte ignored
        assert_eq!(read_wav(&bytes).unwrap().samples, vec![7, 8]);
    }
}
