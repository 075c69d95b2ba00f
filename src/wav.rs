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
mod tests;
