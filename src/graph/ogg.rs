//! Ogg/Opus files (RFC 7845) for recordings: 20 ms Opus packets in Ogg
//! pages, written by the recording writer threads, never on the media tick.
//! Ogg needs no seeking, so a FIFO works as well as a file.

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Channels, Encoder};
use std::io::Write;

/// Encodes interleaved 16-bit PCM at 8, 16 or 48 kHz (mono or stereo) into an
/// Ogg/Opus stream.
///
/// ```
/// let mut w = sipwire::graph::ogg::OggOpusWriter::new(Vec::new(), 16000, 1).unwrap();
/// w.write_samples(&[0i16; 3200]).unwrap(); // 200 ms
/// let bytes = w.finish().unwrap();
/// assert_eq!(&bytes[..4], b"OggS");
/// ```
pub struct OggOpusWriter<W: Write> {
    out: PacketWriter<'static, W>,
    enc: Encoder,
    serial: u32,
    channels: usize,
    rate: u32,
    pre_skip: u64,
    pending: Vec<i16>,
    /// Input frames (per channel) encoded so far, real audio only.
    frames_in: u64,
    packets: u64,
    packet: Vec<u8>,
}

impl<W: Write> OggOpusWriter<W> {
    /// Write the Opus headers for `channels` (1 or 2) at `rate`.
    pub fn new(w: W, rate: u32, channels: u16) -> std::io::Result<Self> {
        let ch = match channels {
            1 => Channels::Mono,
            2 => Channels::Stereo,
            _ => {
                return Err(std::io::Error::other(
                    "Ogg/Opus recordings are mono or stereo",
                ))
            }
        };
        let mut enc = Encoder::new(rate, ch, Application::Audio).map_err(std::io::Error::other)?;
        // The lookahead is in input samples; the header counts at 48 kHz.
        let lookahead = enc.get_lookahead().map_err(std::io::Error::other)? as u64;
        let pre_skip = lookahead * 48_000 / u64::from(rate);
        let mut out = PacketWriter::new(w);
        let serial = rand::random::<u32>();
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(channels as u8);
        head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
        head.extend_from_slice(&rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family 0
        out.write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)?;
        let vendor = concat!("sipwire ", env!("CARGO_PKG_VERSION"));
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes());
        out.write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)?;
        Ok(OggOpusWriter {
            out,
            enc,
            serial,
            channels: usize::from(channels),
            rate,
            pre_skip,
            pending: Vec::new(),
            frames_in: 0,
            packets: 0,
            packet: vec![0; 4000],
        })
    }

    fn frame_len(&self) -> usize {
        (self.rate / 50) as usize * self.channels
    }

    /// Append interleaved samples; whole 20 ms frames are encoded at once.
    pub fn write_samples(&mut self, samples: &[i16]) -> std::io::Result<()> {
        self.pending.extend_from_slice(samples);
        let n = self.frame_len();
        while self.pending.len() >= n {
            let frame: Vec<i16> = self.pending.drain(..n).collect();
            self.frames_in += (n / self.channels) as u64;
            self.encode(&frame, PacketWriteEndInfo::NormalPacket)?;
        }
        Ok(())
    }

    fn encode(&mut self, frame: &[i16], end: PacketWriteEndInfo) -> std::io::Result<()> {
        let len = self
            .enc
            .encode(frame, &mut self.packet)
            .map_err(std::io::Error::other)?;
        self.packets += 1;
        // Granule: 48 kHz samples decoded so far; the last page ends at the
        // real audio, so players trim the padding of the final frame.
        let mut granule = self.packets * 960;
        if end == PacketWriteEndInfo::EndStream {
            granule = granule.min(self.pre_skip + self.frames_in * 48_000 / u64::from(self.rate));
        }
        self.out
            .write_packet(self.packet[..len].to_vec(), self.serial, end, granule)
    }

    /// Encode what is left (padded with silence), end the stream and
    /// return the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        let n = self.frame_len();
        let mut last = std::mem::take(&mut self.pending);
        self.frames_in += (last.len() / self.channels) as u64;
        last.resize(n, 0);
        self.encode(&last, PacketWriteEndInfo::EndStream)?;
        let mut w = self.out.into_inner();
        w.flush()?;
        Ok(w)
    }
}
