//! Recordings are written by a small pool of writer threads, never on the
//! media tick.
//!
//! The media pipeline hands each 20 ms of PCM to a [`ChannelSink`], which
//! batches 200 ms and queues it for its writer thread. A slow disk or a FIFO
//! nobody drains costs queued memory up to a cap per recording, then drops
//! audio with a warning, instead of delaying every call on the I/O thread.
//! The writer opens the file itself (non-blocking, so even `open()` on a FIFO
//! cannot hang), and reports opening and finishing through callbacks that
//! settle the JS promises. One thread per recording cost ~2 threads and 100
//! wake-ups a second per recorded call; the pool keeps that flat, and each
//! writer wakes once per 200 ms round (at once for opens and finishes), not
//! once per batch: 10 wake-ups a second in all with 50 calls recording,
//! where waking per batch took 375.
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
use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};

mod files;
#[cfg(test)]
mod tests;

use files::{open, ByteFile, Out};

/// Batches queued per recording before audio is dropped: 10 s of 200 ms batches.
const QUEUE_BATCHES: usize = 50;
/// PCM is handed to the writer in batches of this many ms.
const BATCH_MS: u32 = 200;
/// Writer threads for every recording in the process.
const WRITERS: usize = 2;

struct Shared {
    /// Set by the writer when the file cannot be written any more.
    failed: Mutex<Option<String>>,
    /// Batches the writer could not hand to the file (non-blocking FIFO full).
    dropped_by_writer: AtomicU64,
    /// Batches queued and not yet written.
    queued: AtomicUsize,
    /// Whichever of `finish` and the writer's end comes second settles.
    end: Mutex<End>,
    /// Batch buffers the writer is done with, for the sink to fill again:
    /// growing a fresh one per batch cost several reallocations and copies
    /// per call per 200 ms on the media tick, and a cross-thread free.
    spare: Mutex<Vec<Vec<i16>>>,
}

/// Spare batch buffers kept per recording.
const SPARE_BATCHES: usize = 2;

#[derive(Default)]
struct End {
    callback: Option<FinishCallback>,
    asked: bool,
    result: Option<Result<(), String>>,
}

enum Job {
    Open {
        id: u64,
        path: String,
        rate: u32,
        format: crate::wav::WavFormat,
        channels: u16,
        /// Ogg/Opus instead of WAV (`format` is then ignored).
        ogg: bool,
        shared: Arc<Shared>,
        on_open: FinishCallback,
    },
    Samples(u64, Vec<i16>),
    Finish(u64),
    /// A byte-stream recording (video): opened like a WAV, written as given.
    OpenBytes {
        id: u64,
        path: String,
        shared: Arc<Shared>,
        on_open: FinishCallback,
    },
    Bytes(u64, Vec<u8>),
    /// Finish a byte stream; the patches (offset, bytes) are written over
    /// the file when it is seekable (e.g. a frame count in a header).
    FinishBytes(u64, Vec<(u64, Vec<u8>)>),
}

/// One writer thread of the pool.
struct Writer {
    tx: Mutex<Sender<Job>>,
    thread: std::thread::Thread,
}

/// The writer pool: jobs go to `id % WRITERS`, so one recording's jobs stay in order.
fn pool() -> &'static Vec<Writer> {
    static POOL: OnceLock<Vec<Writer>> = OnceLock::new();
    POOL.get_or_init(|| {
        (0..WRITERS)
            .filter_map(|i| {
                let (tx, rx) = channel();
                std::thread::Builder::new()
                    .name(format!("sipwire-rec-{i}"))
                    .spawn(move || writer(rx))
                    .ok()
                    .map(|h| Writer {
                        tx: Mutex::new(tx),
                        thread: h.thread().clone(),
                    })
            })
            .collect()
    })
}

fn send(id: u64, job: Job) -> bool {
    let pool = pool();
    if pool.is_empty() {
        return false;
    }
    // Data waits for the writer's next round; opening and finishing wake it,
    // so a promise never waits for a round.
    let urgent = !matches!(job, Job::Samples(..) | Job::Bytes(..));
    let w = &pool[(id as usize) % pool.len()];
    let ok = w.tx.lock().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
    if urgent {
        w.thread.unpark();
    }
    ok
}

/// The media pipeline's end of a recording.
pub struct ChannelSink {
    id: u64,
    shared: Arc<Shared>,
    buf: Vec<i16>,
    batch: usize,
    overrun_reported: bool,
    finished: bool,
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
    start_with_channels(path, rate, format, 1, on_open)
}

/// [`start`] for `channels` (1 or 2) interleaved channels: the sink then
/// takes interleaved frames (left, right, ...).
pub fn start_with_channels(
    path: String,
    rate: u32,
    format: crate::wav::WavFormat,
    channels: u16,
    on_open: FinishCallback,
) -> ChannelSink {
    start_job(path, rate, format, channels, false, on_open)
}

/// [`start_with_channels`] into an Ogg/Opus file (RFC 7845) instead of WAV:
/// the writer thread encodes 20 ms Opus packets.
pub fn start_ogg_opus(
    path: String,
    rate: u32,
    channels: u16,
    on_open: FinishCallback,
) -> ChannelSink {
    start_job(
        path,
        rate,
        crate::wav::WavFormat::S16,
        channels,
        true,
        on_open,
    )
}

fn start_job(
    path: String,
    rate: u32,
    format: crate::wav::WavFormat,
    channels: u16,
    ogg: bool,
    on_open: FinishCallback,
) -> ChannelSink {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        failed: Mutex::new(None),
        dropped_by_writer: AtomicU64::new(0),
        queued: AtomicUsize::new(0),
        end: Mutex::new(End::default()),
        spare: Mutex::new(Vec::new()),
    });
    let job = Job::Open {
        id,
        path,
        rate,
        format,
        channels,
        ogg,
        shared: shared.clone(),
        on_open,
    };
    if !send(id, job) {
        *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) =
            Some("cannot start the recording threads".into());
    }
    let batch = (rate / 1000 * BATCH_MS) as usize * usize::from(channels.max(1));
    ChannelSink {
        id,
        shared,
        buf: Vec::with_capacity(batch),
        batch,
        overrun_reported: false,
        finished: false,
    }
}

impl ChannelSink {
    /// Queue what is buffered; false when the recording is over its cap.
    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        if self.shared.queued.load(Ordering::Acquire) >= QUEUE_BATCHES {
            self.buf.clear();
            return false;
        }
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let next = self
            .shared
            .spare
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.batch));
        let full = std::mem::replace(&mut self.buf, next);
        send(self.id, Job::Samples(self.id, full))
    }
}

impl PcmSink for ChannelSink {
    fn write(&mut self, pcm: &[i16]) -> SinkStatus {
        if self.finished {
            return SinkStatus::Failed("recording already finished".into());
        }
        self.buf.extend_from_slice(pcm);
        if self.buf.len() < self.batch {
            // The writer's verdicts are read once per batch (200 ms): read
            // per 20 ms frame, their line (which the writer thread writes)
            // was a cache miss and a locked instruction on every call's
            // every frame.
            return SinkStatus::Ok;
        }
        if let Some(msg) = self
            .shared
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            self.buf.clear();
            return SinkStatus::Failed(msg);
        }
        let mut overrun = self.shared.dropped_by_writer.load(Ordering::Relaxed) > 0;
        overrun |= !self.flush();
        if overrun && !self.overrun_reported {
            self.overrun_reported = true;
            return SinkStatus::Overrun;
        }
        SinkStatus::Ok
    }

    fn finish(mut self: Box<Self>, done: Option<FinishCallback>) {
        let shared = self.shared.clone();
        let mut end = shared.end.lock().unwrap_or_else(|p| p.into_inner());
        end.asked = true;
        match end.result.clone() {
            Some(r) => {
                // The writer already ended (it failed): settle now.
                drop(end);
                self.finished = true;
                if let Some(done) = done {
                    done(r);
                }
            }
            None => {
                end.callback = done;
                drop(end);
                self.close();
            }
        }
    }
}

impl ChannelSink {
    /// Hand over the tail and tell the writer to finish the file.
    fn close(&mut self) {
        if !self.finished {
            self.finished = true;
            self.flush();
            send(self.id, Job::Finish(self.id));
        }
    }
}

impl Drop for ChannelSink {
    fn drop(&mut self) {
        // Dropped without `finish` (its connection went away): still close the file.
        self.close();
    }
}

struct Open {
    out: Out,
    path: String,
    shared: Arc<Shared>,
}

/// How often a writer with open files wakes to write what was queued: the
/// batch length, so each recording gets about one batch per round. Waking
/// per job instead cost ~2,770 futex calls a second at 100 recorded calls.
const ROUND: std::time::Duration = std::time::Duration::from_millis(BATCH_MS as u64);

fn writer(rx: Receiver<Job>) {
    let mut w = WriterState {
        files: HashMap::new(),
        bytes: Vec::new(),
    };
    loop {
        if w.files.is_empty() {
            // Nothing open: sleep until a job (an open) arrives.
            match rx.recv() {
                Ok(job) => w.run(job),
                Err(_) => return,
            }
        } else {
            // Senders only unpark us for opens and finishes; batches wait
            // for the round (a send to a receiver that is not blocked in
            // `recv` makes no system call).
            std::thread::park_timeout(ROUND);
        }
        loop {
            match rx.try_recv() {
                Ok(job) => w.run(job),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
    }
}

/// A writer thread's open files.
struct WriterState {
    files: HashMap<u64, Open>,
    /// Scratch for PCM as bytes.
    bytes: Vec<u8>,
}

impl WriterState {
    fn run(&mut self, job: Job) {
        let files = &mut self.files;
        let bytes = &mut self.bytes;
        match job {
            Job::Open {
                id,
                path,
                rate,
                format,
                channels,
                ogg,
                shared,
                on_open,
            } => match open(&path, rate, format, channels, ogg) {
                Ok(out) => {
                    on_open(Ok(()));
                    files.insert(id, Open { out, path, shared });
                }
                Err(msg) => {
                    *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
                    on_open(Err(msg.clone()));
                    finish_with(&shared, Err(msg));
                }
            },
            Job::Samples(id, mut batch) => {
                let Some(f) = files.get_mut(&id) else {
                    return;
                };
                f.shared.queued.fetch_sub(1, Ordering::AcqRel);
                let r = match &mut f.out {
                    Out::Bytes(_) => Ok(()),
                    Out::Seekable(w) => w.write_samples(&batch).map_err(|e| e.to_string()),
                    Out::Ogg(w) => w.write_samples(&batch).map_err(|e| e.to_string()),
                    Out::Stream(w) => {
                        bytes.clear();
                        bytes.extend(batch.iter().flat_map(|s| s.to_le_bytes()));
                        match w.write_all(bytes) {
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                f.shared.dropped_by_writer.fetch_add(1, Ordering::Relaxed);
                                Ok(())
                            }
                            r => r.map_err(|e| e.to_string()),
                        }
                    }
                };
                batch.clear();
                let mut spare = f.shared.spare.lock().unwrap_or_else(|p| p.into_inner());
                if spare.len() < SPARE_BATCHES {
                    spare.push(batch);
                }
                drop(spare);
                if let Err(e) = r {
                    let msg = format!("recording to {} failed: {e}", f.path);
                    *f.shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
                    finish_with(&f.shared, Err(msg));
                    files.remove(&id);
                }
            }
            Job::OpenBytes {
                id,
                path,
                shared,
                on_open,
            } => match ByteFile::open(&path) {
                Ok(w) => {
                    on_open(Ok(()));
                    files.insert(
                        id,
                        Open {
                            out: Out::Bytes(w),
                            path,
                            shared,
                        },
                    );
                }
                Err(msg) => {
                    *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
                    on_open(Err(msg.clone()));
                    finish_with(&shared, Err(msg));
                }
            },
            Job::Bytes(id, data) => {
                let Some(f) = files.get_mut(&id) else {
                    return;
                };
                f.shared.queued.fetch_sub(1, Ordering::AcqRel);
                let Out::Bytes(w) = &mut f.out else { return };
                let r = w.write(&data);
                if let Ok(false) = r {
                    f.shared.dropped_by_writer.fetch_add(1, Ordering::Relaxed);
                }
                if let Err(e) = r {
                    let msg = format!("recording to {} failed: {e}", f.path);
                    *f.shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
                    finish_with(&f.shared, Err(msg));
                    files.remove(&id);
                }
            }
            Job::FinishBytes(id, patches) => {
                let Some(f) = files.remove(&id) else { return };
                let r = match f.out {
                    Out::Bytes(w) => w.finish(&patches),
                    _ => Ok(()),
                };
                finish_with(
                    &f.shared,
                    r.map_err(|e| format!("finishing {}: {e}", f.path)),
                );
            }
            Job::Finish(id) => {
                let Some(f) = files.remove(&id) else { return };
                let r = match f.out {
                    Out::Bytes(w) => w.finish(&[]).map_err(|e| e.to_string()),
                    Out::Seekable(w) => w.finish().map(|_| ()).map_err(|e| e.to_string()),
                    Out::Ogg(w) => w.finish().map(|_| ()).map_err(|e| e.to_string()),
                    Out::Stream(mut w) => match w.flush() {
                        Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e.to_string()),
                        _ => Ok(()),
                    },
                };
                finish_with(
                    &f.shared,
                    r.map_err(|e| format!("finishing {}: {e}", f.path)),
                );
            }
        }
    }
}

/// The media pipeline's end of a byte-stream (video) recording: each
/// `write` is one queued job, so the caller batches (a frame at a time).
pub struct ByteSink {
    id: u64,
    shared: Arc<Shared>,
    finished: bool,
    overrun_reported: bool,
}

/// Start a byte-stream recording to `path` (opened by a writer thread).
///
/// ```no_run
/// let mut sink = sipwire::recording::start_bytes("/tmp/v.ivf".into(), Box::new(|_| {}));
/// let _ = sink.write(vec![0u8; 32]);
/// sink.finish(vec![], None);
/// ```
pub fn start_bytes(path: String, on_open: FinishCallback) -> ByteSink {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 48);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        failed: Mutex::new(None),
        dropped_by_writer: AtomicU64::new(0),
        queued: AtomicUsize::new(0),
        end: Mutex::new(End::default()),
        spare: Mutex::new(Vec::new()),
    });
    let job = Job::OpenBytes {
        id,
        path,
        shared: shared.clone(),
        on_open,
    };
    if !send(id, job) {
        *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) =
            Some("cannot start the recording threads".into());
    }
    ByteSink {
        id,
        shared,
        finished: false,
        overrun_reported: false,
    }
}

/// Frames (jobs) queued per video recording before frames are dropped.
const QUEUE_FRAMES: usize = 600;

impl ByteSink {
    /// Queue bytes for the file.
    pub fn write(&mut self, data: Vec<u8>) -> SinkStatus {
        if let Some(msg) = self
            .shared
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return SinkStatus::Failed(msg);
        }
        if self.finished {
            return SinkStatus::Failed("recording already finished".into());
        }
        // Frames dropped here (queue full) or by the writer (a FIFO whose
        // reader is slow): reported once.
        let full = self.shared.queued.load(Ordering::Acquire) >= QUEUE_FRAMES;
        if !full {
            self.shared.queued.fetch_add(1, Ordering::AcqRel);
            send(self.id, Job::Bytes(self.id, data));
        }
        let dropped = full || self.shared.dropped_by_writer.load(Ordering::Relaxed) > 0;
        if dropped && !self.overrun_reported {
            self.overrun_reported = true;
            return SinkStatus::Overrun;
        }
        SinkStatus::Ok
    }

    /// Finish the file (applying `patches` when it is seekable); `done`
    /// learns when everything queued is on disk.
    pub fn finish(mut self, patches: Vec<(u64, Vec<u8>)>, done: Option<FinishCallback>) {
        let shared = self.shared.clone();
        let mut end = shared.end.lock().unwrap_or_else(|p| p.into_inner());
        end.asked = true;
        self.finished = true;
        match end.result.clone() {
            Some(r) => {
                drop(end);
                if let Some(done) = done {
                    done(r);
                }
            }
            None => {
                end.callback = done;
                drop(end);
                send(self.id, Job::FinishBytes(self.id, patches));
            }
        }
    }
}

impl Drop for ByteSink {
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            send(self.id, Job::FinishBytes(self.id, vec![]));
        }
    }
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
