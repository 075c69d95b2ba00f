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
fn writes_an_ogg_opus_file() {
    let path = tmp("a.ogg");
    let mut sink = start_ogg_opus(path.clone(), 16000, 2, Box::new(|_| {}));
    let tone = crate::tone::sine(1000.0, 16000, 16000, 8000);
    let stereo: Vec<i16> = tone.iter().flat_map(|&s| [s, 0]).collect();
    for chunk in stereo.chunks(640) {
        assert_eq!(sink.write(chunk), SinkStatus::Ok);
    }
    let (ftx, frx) = channel();
    Box::new(sink).finish(Some(Box::new(move |r| ftx.send(r).unwrap())));
    assert_eq!(frx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"OggS");
    let head = bytes.windows(8).position(|w| w == b"OpusHead").unwrap();
    assert_eq!(bytes[head + 9], 2, "two channels");
    // The last page's granule: pre-skip + 1 s at 48 kHz.
    let last = bytes.windows(4).rposition(|w| w == b"OggS").unwrap();
    let granule = u64::from_le_bytes(bytes[last + 6..last + 14].try_into().unwrap());
    let pre_skip = u64::from(u16::from_le_bytes([bytes[head + 10], bytes[head + 11]]));
    assert_eq!(granule - pre_skip, 48_000);
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
    // The sink learns it at its next batch (200 ms of audio).
    assert!(matches!(sink.write(&[0; 1600]), SinkStatus::Failed(_)));
}

/// A FIFO at a fresh path (made with coreutils' `mkfifo`).
#[cfg(target_os = "linux")]
fn fifo(name: &str) -> String {
    let path = tmp(name);
    let _ = std::fs::remove_file(&path);
    let st = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo");
    assert!(st.success(), "mkfifo {path}");
    path
}

/// Start a byte-stream recording to a regular file on the same writer
/// thread as `other`, write to it and finish it; true when that settled
/// within 5 s (the thread is not stuck).
fn same_writer_still_writes(other: &ByteSink, name: &str) -> bool {
    let pool = pool().len() as u64;
    for i in 0..64 {
        let sink = start_bytes(tmp(&format!("{name}-{i}")), Box::new(|_| {}));
        if sink.id % pool != other.id % pool {
            continue;
        }
        let mut sink = sink;
        assert_eq!(sink.write(vec![7u8; 1000]), SinkStatus::Ok);
        let (tx, rx) = channel();
        sink.finish(vec![], Some(Box::new(move |r| tx.send(r).unwrap())));
        return rx.recv_timeout(Duration::from_secs(5)) == Ok(Ok(()));
    }
    panic!("no recording landed on the same writer thread");
}

/// A video recording into a FIFO whose reader never reads: writes never
/// block, frames are dropped whole with an overrun, the writer thread stays
/// free for the other recordings on it, and stopping settles.
#[cfg(target_os = "linux")]
#[test]
fn video_into_an_unread_fifo_drops_whole_frames_and_never_stalls_the_writer() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = fifo("stalled.ivf");
    // Open for reading (so the writer's open succeeds) and never read
    // until the end: the pipe fills after 64 KiB.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(0o4000) // O_NONBLOCK
        .open(&path)
        .unwrap();
    let (otx, orx) = channel();
    let mut sink = start_bytes(path.clone(), Box::new(move |r| otx.send(r).unwrap()));
    assert_eq!(orx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    const FRAME: usize = 8192;
    let started = std::time::Instant::now();
    let mut overruns = 0;
    // 3.2 MB: more than the pipe and the writer's backlog hold, fewer jobs
    // than the queue's cap, so any dropping is the writer's.
    for k in 0..400u32 {
        match sink.write(vec![(k % 251) as u8; FRAME]) {
            SinkStatus::Ok => {}
            SinkStatus::Overrun => overruns += 1,
            SinkStatus::Failed(m) => panic!("failed: {m}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "writes blocked: {:?}",
        started.elapsed()
    );
    // One thread runs its jobs in order: once another recording on it
    // finished, every frame above was handled.
    assert!(
        same_writer_still_writes(&sink, "beside-fifo.ivf"),
        "a recording on the stalled FIFO's writer thread did not finish"
    );
    assert!(sink.shared.dropped_by_writer.load(Ordering::Relaxed) > 0);
    if overruns == 0 {
        assert_eq!(sink.write(vec![0; FRAME]), SinkStatus::Overrun);
    } else {
        assert_eq!(overruns, 1, "an overrun is reported once");
    }
    let (ftx, frx) = channel();
    sink.finish(vec![], Some(Box::new(move |r| ftx.send(r).unwrap())));
    assert_eq!(frx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
    // What reached the FIFO is whole frames, in order.
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(got.len() >= FRAME, "the FIFO got {} bytes", got.len());
    let mut last = None;
    for chunk in got.chunks_exact(FRAME) {
        assert!(chunk.iter().all(|&b| b == chunk[0]), "a frame was cut");
        if let Some(l) = last {
            assert!(chunk[0] > l, "frames out of order: {} after {l}", chunk[0]);
        }
        last = Some(chunk[0]);
    }
    let _ = std::fs::remove_file(&path);
}

/// Opening a FIFO that nobody reads fails at once (no thread hangs in
/// `open()`), naming the file, and the writer stays free.
#[cfg(target_os = "linux")]
#[test]
fn video_into_a_fifo_without_reader_fails_at_once() {
    let path = fifo("noreader.ivf");
    let (otx, orx) = channel();
    let sink = start_bytes(path.clone(), Box::new(move |r| otx.send(r).unwrap()));
    let opened = orx
        .recv_timeout(Duration::from_secs(5))
        .expect("open settled");
    let msg = opened.expect_err("opening a FIFO without reader must fail");
    assert!(msg.contains(&path), "{msg}");
    assert!(same_writer_still_writes(&sink, "beside-noreader.ivf"));
    let _ = std::fs::remove_file(&path);
}

/// Batches wait for the writer's 200 ms round, but finishing wakes it: with
/// another recording open on the same thread (so the writer sleeps by the
/// round rather than on the channel), a finish settles well within a round.
#[test]
fn finishing_does_not_wait_for_the_writers_round() {
    let mut keep = start_bytes(tmp("keep-open.ivf"), Box::new(|_| {}));
    assert_eq!(keep.write(vec![1u8; 100]), SinkStatus::Ok);
    let pool = pool().len() as u64;
    let mut checked = 0;
    for i in 0..64 {
        let mut sink = start_bytes(tmp(&format!("quick-{i}.ivf")), Box::new(|_| {}));
        if sink.id % pool != keep.id % pool {
            continue;
        }
        assert_eq!(sink.write(vec![2u8; 100]), SinkStatus::Ok);
        let (tx, rx) = channel();
        let asked = std::time::Instant::now();
        sink.finish(vec![], Some(Box::new(move |r| tx.send(r).unwrap())));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        let took = asked.elapsed();
        assert!(took < ROUND / 2, "finish took {took:?}");
        checked += 1;
        if checked == 3 {
            break;
        }
    }
    assert_eq!(checked, 3);
    keep.finish(vec![], None);
}
