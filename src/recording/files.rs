//! The files the writer threads write: WAV (seekable, or streamed into a
//! FIFO), Ogg/Opus, and byte streams (video). Everything is opened
//! non-blocking, so neither `open()` on a FIFO nobody reads nor a write to a
//! full one can hang a writer thread (and every recording that shares it).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Seek, SeekFrom, Write};

/// Bytes a byte-stream recording into a FIFO holds while its reader is slow;
/// past this, whole jobs (video frames) are dropped, so the stream stays
/// parseable.
const STREAM_BACKLOG: usize = 1 << 20;

/// A WAV file, seekable (sizes patched at the end) or not (a FIFO: the
/// header says "unknown length", as streaming WAV writers do).
pub(super) enum Out {
    Seekable(crate::wav::WavWriter<BufWriter<File>>),
    Stream(BufWriter<File>),
    /// Ogg/Opus needs no seeking: a file or a FIFO with a reader.
    Ogg(crate::graph::ogg::OggOpusWriter<BufWriter<File>>),
    /// A byte-stream (video) recording.
    Bytes(ByteFile),
}

pub(super) fn open(
    path: &str,
    rate: u32,
    format: crate::wav::WavFormat,
    channels: u16,
    ogg: bool,
) -> Result<Out, String> {
    let (file, regular) =
        open_nonblocking(path).map_err(|e| format!("cannot record to {path}: {e}"))?;
    if ogg {
        crate::graph::ogg::OggOpusWriter::new(BufWriter::new(file), rate, channels)
            .map(Out::Ogg)
            .map_err(|e| format!("cannot record to {path}: {e}"))
    } else if regular {
        crate::wav::WavWriter::with_channels(BufWriter::new(file), rate, format, channels)
            .map(Out::Seekable)
            .map_err(|e| format!("cannot record to {path}: {e}"))
    } else if format != crate::wav::WavFormat::S16 {
        Err(format!(
            "cannot record to {path}: mu-law and A-law recordings need a regular file"
        ))
    } else {
        let mut header = crate::wav::header_for(format, rate, 0, channels);
        // RIFF and data sizes "unknown" (0xFFFFFFFF), since they cannot be patched.
        header[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        header[40..44].copy_from_slice(&(u32::MAX - 36).to_le_bytes());
        let mut w = BufWriter::new(file);
        match w.write_all(&header) {
            Ok(()) => Ok(Out::Stream(w)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Out::Stream(w)),
            Err(e) => Err(format!("cannot record to {path}: {e}")),
        }
    }
}

#[cfg(unix)]
fn libc_nonblock() -> i32 {
    // O_NONBLOCK on Linux (every architecture we build for) and the BSDs/macOS.
    if cfg!(target_os = "linux") {
        0o4000
    } else {
        0x0004
    }
}

/// Open (create, truncate) `path` for writing without blocking: opening a
/// FIFO nobody reads fails at once (ENXIO) instead of hanging the writer
/// thread. Also says whether it is a regular file.
fn open_nonblocking(path: &str) -> std::io::Result<(File, bool)> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc_nonblock());
    }
    let file = opts.open(path)?;
    let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    Ok((file, regular))
}

/// A byte-stream (video) recording file.
pub(super) enum ByteFile {
    /// Buffered; header patches are applied at the end.
    Regular(BufWriter<File>),
    /// A FIFO: written as far as it takes without blocking, the rest kept
    /// (up to [`STREAM_BACKLOG`]) for the next write.
    Stream { file: File, pending: Vec<u8> },
}

impl ByteFile {
    /// Open a video recording file.
    pub(super) fn open(path: &str) -> Result<ByteFile, String> {
        let (file, regular) =
            open_nonblocking(path).map_err(|e| format!("cannot record video to {path}: {e}"))?;
        Ok(if regular {
            ByteFile::Regular(BufWriter::with_capacity(256 * 1024, file))
        } else {
            ByteFile::Stream {
                file,
                pending: Vec::new(),
            }
        })
    }

    /// Write one job's bytes; `Ok(false)` when a FIFO's backlog is full and
    /// the job was dropped whole.
    pub(super) fn write(&mut self, data: &[u8]) -> std::io::Result<bool> {
        match self {
            ByteFile::Regular(w) => w.write_all(data).map(|()| true),
            ByteFile::Stream { file, pending } => {
                let keep = pending.len() + data.len() <= STREAM_BACKLOG;
                if keep {
                    pending.extend_from_slice(data);
                }
                drain(file, pending)?;
                Ok(keep)
            }
        }
    }

    /// Flush, then write `patches` (offset, bytes) over a regular file (e.g.
    /// a frame count in a header). A FIFO gets what it takes now; the rest
    /// is dropped.
    pub(super) fn finish(self, patches: &[(u64, Vec<u8>)]) -> std::io::Result<()> {
        match self {
            ByteFile::Regular(mut w) => {
                w.flush()?;
                let mut f = w.into_inner().map_err(|e| e.into_error())?;
                for (at, bytes) in patches {
                    f.seek(SeekFrom::Start(*at))?;
                    f.write_all(bytes)?;
                }
                f.flush()
            }
            ByteFile::Stream {
                mut file,
                mut pending,
            } => drain(&mut file, &mut pending),
        }
    }
}

/// Write as much of `pending` as the non-blocking `file` takes now.
fn drain(file: &mut File, pending: &mut Vec<u8>) -> std::io::Result<()> {
    let mut done = 0;
    let r = loop {
        if done == pending.len() {
            break Ok(());
        }
        match file.write(&pending[done..]) {
            Ok(0) => break Err(ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    pending.drain(..done);
    r
}
