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
    assert!(matches!(sink.write(&[0; 160]), SinkStatus::Failed(_)));
}
