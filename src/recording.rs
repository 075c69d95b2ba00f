//! Recordings are written by a thread of their own, never on the media tick.
//!
//! The media pipeline hands each batch of PCM to a [`ChannelSink`] (a bounded
//! channel, so a slow disk or a FIFO nobody drains costs memory up to a cap
//! and then drops audio, with a warning, instead of delaying every call on the
//! I/O thread). The writer thread opens the file, so even `open()` cannot
//! stall a shard, and reports the outcome of opening and of finishing through
//! callbacks that settle the JS promises.
//!
//! ```no_run
//! use sipwire::media::PcmSink;
//! let mut sink = sipwire::recording::start(
//!     "/tmp/caller.wav".into(),
//!     16000,
//!     sipwire::wav::WavFormat::S16,
//!     Box::new(|opened| println!("opened: {opened:?}")),
//! );
//! let _ = sink.write(&[0i16; 320]);
//! Box::new(sink).finish(Some(Box::new(|done| println!("finished: {done:?}"))));
//! ```

use crate::media::{FinishCallback, PcmSink, SinkStatus};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// Batches (20 ms each) queued before audio is dropped: 10 s.
const QUEUE_BATCHES: usize = 500;

struct Shared {
    /// Set by the writer when the file cannot be written any more.
    failed: Mutex<Option<String>>,
    /// Batches the writer could not hand to the file (non-blocking FIFO full).
    dropped_by_writer: AtomicU64,
    /// Whichever of `finish` and the writer's end comes second settles.
    end: Mutex<End>,
}

#[derive(Default)]
struct End {
    callback: Option<FinishCallback>,
    asked: bool,
    result: Option<Result<(), String>>,
}

/// The media pipeline's end of a recording.
pub struct ChannelSink {
    tx: Option<SyncSender<Vec<i16>>>,
    shared: Arc<Shared>,
    overrun_reported: bool,
}

/// Start a recording of mono 16-bit PCM at `rate` into a WAV file at `path`.
/// `on_open` learns whether the file could be opened; samples written before
/// that are queued.
pub fn start(
    path: String,
    rate: u32,
    format: crate::wav::WavFormat,
    on_open: FinishCallback,
) -> ChannelSink {
    let (tx, rx) = sync_channel(QUEUE_BATCHES);
    let shared = Arc::new(Shared {
        failed: Mutex::new(None),
        dropped_by_writer: AtomicU64::new(0),
        end: Mutex::new(End::default()),
    });
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("sipwire-rec".into())
        .spawn(move || writer(path, rate, format, rx, s, on_open));
    if let Err(e) = spawned {
        *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(format!("cannot start the recording thread: {e}"));
    }
    ChannelSink {
        tx: Some(tx),
        shared,
        overrun_reported: false,
    }
}

impl PcmSink for ChannelSink {
    fn write(&mut self, pcm: &[i16]) -> SinkStatus {
        if let Some(msg) = self
            .shared
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return SinkStatus::Failed(msg);
        }
        let Some(tx) = self.tx.as_ref() else {
            return SinkStatus::Failed("recording already finished".into());
        };
        let overrun = match tx.try_send(pcm.to_vec()) {
            Ok(()) => self.shared.dropped_by_writer.load(Ordering::Relaxed) > 0,
            Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => {
                return SinkStatus::Failed("the recording thread stopped".into())
            }
        };
        if overrun && !self.overrun_reported {
            self.overrun_reported = true;
            return SinkStatus::Overrun;
        }
        SinkStatus::Ok
    }

    fn finish(mut self: Box<Self>, done: Option<FinishCallback>) {
        let shared = self.shared.clone();
        let ended = {
            let mut end = shared.end.lock().unwrap_or_else(|p| p.into_inner());
            end.asked = true;
            match end.result.clone() {
                Some(r) => Some(r),
                None => {
                    end.callback = done;
                    return self.close();
                }
            }
        };
        if let (Some(r), Some(done)) = (ended, done) {
            done(r);
        }
    }
}

impl ChannelSink {
    /// Closing the channel tells the writer: drain what is queued, then finish.
    fn close(&mut self) {
        self.tx = None;
    }
}

/// A WAV file, seekable (sizes patched at the end) or not (a FIFO: the
/// header says "unknown length", as streaming WAV writers do).
enum Out {
    Seekable(crate::wav::WavWriter<BufWriter<File>>),
    Stream(BufWriter<File>),
}

fn open(path: &str, rate: u32, format: crate::wav::WavFormat) -> Result<Out, String> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        // Non-blocking: opening a FIFO nobody reads fails at once (ENXIO)
        // instead of hanging this thread; a full FIFO drops audio.
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc_nonblock());
    }
    let file = opts
        .open(path)
        .map_err(|e| format!("cannot record to {path}: {e}"))?;
    let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if regular {
        crate::wav::WavWriter::with_format(BufWriter::new(file), rate, format)
            .map(Out::Seekable)
            .map_err(|e| format!("cannot record to {path}: {e}"))
    } else if format != crate::wav::WavFormat::S16 {
        Err(format!(
            "cannot record to {path}: mu-law and A-law recordings need a regular file"
        ))
    } else {
        let mut header = crate::wav::encode_wav(&[], rate);
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

fn writer(
    path: String,
    rate: u32,
    format: crate::wav::WavFormat,
    rx: Receiver<Vec<i16>>,
    shared: Arc<Shared>,
    on_open: FinishCallback,
) {
    let fail = |msg: String| {
        *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
    };
    let mut out = match open(&path, rate, format) {
        Ok(o) => {
            on_open(Ok(()));
            o
        }
        Err(msg) => {
            fail(msg.clone());
            on_open(Err(msg.clone()));
            drop(rx);
            finish_with(&shared, Err(msg));
            return;
        }
    };
    let mut bytes = Vec::new();
    for batch in rx.iter() {
        let r = match &mut out {
            Out::Seekable(w) => w.write_samples(&batch).map_err(|e| e.to_string()),
            Out::Stream(w) => {
                bytes.clear();
                bytes.extend(batch.iter().flat_map(|s| s.to_le_bytes()));
                match w.write_all(&bytes) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        shared.dropped_by_writer.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    r => r.map_err(|e| e.to_string()),
                }
            }
        };
        if let Err(e) = r {
            let msg = format!("recording to {path} failed: {e}");
            fail(msg.clone());
            drop(rx);
            finish_with(&shared, Err(msg));
            return;
        }
    }
    let r = match out {
        Out::Seekable(w) => w.finish().map(|_| ()).map_err(|e| e.to_string()),
        Out::Stream(mut w) => match w.flush() {
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e.to_string()),
            _ => Ok(()),
        },
    };
    finish_with(&shared, r.map_err(|e| format!("finishing {path}: {e}")));
}

fn finish_with(shared: &Shared, r: Result<(), String>) {
    let done = {
        let mut end = shared.end.lock().unwrap_or_else(|p| p.into_inner());
        end.result = Some(r.clone());
        if end.asked {
            end.callback.take()
        } else {
            None
        }
    };
    if let Some(done) = done {
        done(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    fn tmp(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sipwire-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name).to_string_lossy().into_owned()
    }

    #[test]
    fn writes_a_wav_file_and_reports_open_and_finish() {
        let path = tmp("a.wav");
        let (otx, orx) = channel();
        let mut sink = start(
            path.clone(),
            8000,
            crate::wav::WavFormat::S16,
            Box::new(move |r| otx.send(r).unwrap()),
        );
        for _ in 0..10 {
            assert_eq!(sink.write(&[1000i16; 160]), SinkStatus::Ok);
        }
        let (ftx, frx) = channel();
        Box::new(sink).finish(Some(Box::new(move |r| ftx.send(r).unwrap())));
        assert_eq!(orx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        assert_eq!(frx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        let wav = crate::wav::read_wav(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!((wav.samples.len(), wav.sample_rate), (1600, 8000));
    }

    #[test]
    fn an_unopenable_path_is_reported_with_its_name() {
        let (otx, orx) = channel();
        let mut sink = start(
            "/nonexistent-dir/x.wav".into(),
            8000,
            crate::wav::WavFormat::Pcmu,
            Box::new(move |r| otx.send(r).unwrap()),
        );
        let err = orx
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("/nonexistent-dir/x.wav"), "{err}");
        assert!(matches!(sink.write(&[0; 160]), SinkStatus::Failed(_)));
    }
}
