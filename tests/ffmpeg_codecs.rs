//! G.722 and G.729 against a third-party implementation: FFmpeg's.
//!
//! - Our G.722 stream decodes in FFmpeg to the signal we encoded (SNR, tone
//!   frequency), and FFmpeg's G.722 encoder output decodes in ours likewise.
//! - FFmpeg has a G.729 decoder but no encoder: our G.729A stream decodes in
//!   FFmpeg to the tone we encoded, at its level, and close to our own
//!   decoder's output.
//!
//! Raw payload files stand in for RTP here: an RTP G.722/G.729 payload is
//! exactly these bytes (RFC 3551 §4.5.2, §4.5.6), frame after frame.
//! `ffmpeg` must be on PATH; without it these tests fail.

use sipwire::audio::codec::{CodecKind, Decoder, Encoder};
use sipwire::tone;
use std::path::{Path, PathBuf};
use std::process::Command;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("sipwire-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg must be installed (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_s16(path: &Path, pcm: &[i16]) {
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_s16(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Best SNR (dB) of `got` against `reference` over lags 0..64, skipping the
/// first `skip` samples (codec start-up); returns (lag, snr).
fn aligned_snr(reference: &[i16], got: &[i16], skip: usize) -> (usize, f64) {
    (0..64)
        .map(|lag| {
            let n = reference.len().min(got.len().saturating_sub(lag)) - skip;
            let (mut sig, mut err) = (0f64, 0f64);
            for i in skip..skip + n - 64 {
                let (a, b) = (f64::from(reference[i]), f64::from(got[i + lag]));
                sig += a * a;
                err += (a - b) * (a - b);
            }
            (lag, 10.0 * (sig / err.max(1.0)).log10())
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
}

/// A tone pair: one in G.722's low band and, at 16 kHz, one in its high
/// band (4-8 kHz), which narrowband codecs cannot carry.
fn test_signal(rate: u32, secs: usize) -> Vec<i16> {
    let n = rate as usize * secs;
    let low = tone::sine(700.0, rate, n, 6000);
    if rate < 16000 {
        return low;
    }
    let high = tone::sine(5000.0, rate, n, 3000);
    low.iter().zip(&high).map(|(a, b)| a + b).collect()
}

fn encode_all(kind: CodecKind, pcm: &[i16]) -> Vec<u8> {
    let mut enc = Encoder::new(kind).unwrap();
    let mut out = Vec::new();
    for frame in pcm.chunks_exact(kind.samples_per_frame()) {
        enc.encode(frame, &mut out).unwrap();
    }
    out
}

fn decode_all(kind: CodecKind, bytes: &[u8], frame_bytes: usize) -> Vec<i16> {
    let mut dec = Decoder::new(kind).unwrap();
    let mut out = Vec::new();
    for p in bytes.chunks(frame_bytes) {
        dec.decode(Some(p), &mut out).unwrap();
    }
    out
}

fn power_at(pcm: &[i16], rate: u32, f: f32) -> f32 {
    tone::goertzel_power(pcm, rate, f)
}

#[test]
fn ffmpeg_decodes_our_g722_to_the_signal_we_sent() {
    let dir = TempDir::new("g722-ours");
    let input = test_signal(16000, 2);
    let bytes = encode_all(CodecKind::G722, &input);
    assert_eq!(
        bytes.len(),
        input.len() / 2,
        "64 kbit/s: a byte per 2 samples"
    );
    std::fs::write(dir.file("ours.g722"), &bytes).unwrap();
    ffmpeg(&[
        "-f",
        "g722",
        "-i",
        dir.file("ours.g722").to_str().unwrap(),
        "-f",
        "s16le",
        "-ac",
        "1",
        "-ar",
        "16000",
        dir.file("decoded.raw").to_str().unwrap(),
    ]);
    let decoded = read_s16(&dir.file("decoded.raw"));
    assert!(
        decoded.len() >= input.len() - 320,
        "{} samples",
        decoded.len()
    );
    let (lag, snr) = aligned_snr(&input, &decoded, 1600);
    println!("ours -> ffmpeg G.722: SNR {snr:.1} dB at lag {lag}");
    assert!(snr > 20.0, "SNR {snr:.1} dB at lag {lag}");
    // Both tones are there, the high band one included.
    let tail = &decoded[decoded.len() / 2..];
    let (p700, p5k, p3k) = (
        power_at(tail, 16000, 700.0),
        power_at(tail, 16000, 5000.0),
        power_at(tail, 16000, 3000.0),
    );
    assert!(
        p5k > 100.0 * p3k && p700 > 100.0 * p3k,
        "{p700} {p5k} {p3k}"
    );
}

#[test]
fn our_g722_decodes_ffmpegs_stream_to_the_signal_it_encoded() {
    let dir = TempDir::new("g722-theirs");
    let input = test_signal(16000, 2);
    write_s16(&dir.file("in.raw"), &input);
    ffmpeg(&[
        "-f",
        "s16le",
        "-ar",
        "16000",
        "-ac",
        "1",
        "-i",
        dir.file("in.raw").to_str().unwrap(),
        "-c:a",
        "g722",
        "-f",
        "g722",
        dir.file("theirs.g722").to_str().unwrap(),
    ]);
    let bytes = std::fs::read(dir.file("theirs.g722")).unwrap();
    assert!(
        bytes.len() >= input.len() / 2 - 160,
        "{} bytes",
        bytes.len()
    );
    // As RTP would deliver it: 160-byte payloads.
    let decoded = decode_all(CodecKind::G722, &bytes, 160);
    assert_eq!(decoded.len(), bytes.len() * 2);
    let (lag, snr) = aligned_snr(&input, &decoded, 1600);
    println!("ffmpeg -> ours G.722: SNR {snr:.1} dB at lag {lag}");
    assert!(snr > 20.0, "SNR {snr:.1} dB at lag {lag}");
}

#[test]
fn ffmpeg_decodes_our_g729_to_the_tone_we_sent() {
    let dir = TempDir::new("g729-ours");
    for f in [440.0f32, 1000.0, 1800.0] {
        let input = tone::sine(f, 8000, 16000, 8000);
        let bytes = encode_all(CodecKind::G729, &input);
        assert_eq!(
            bytes.len(),
            input.len() / 8,
            "8 kbit/s: 10 bytes per 80 samples"
        );
        std::fs::write(dir.file("ours.g729"), &bytes).unwrap();
        ffmpeg(&[
            "-f",
            "g729",
            "-i",
            dir.file("ours.g729").to_str().unwrap(),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "8000",
            dir.file("decoded.raw").to_str().unwrap(),
        ]);
        let theirs = read_s16(&dir.file("decoded.raw"));
        assert_eq!(theirs.len(), input.len(), "{f} Hz");
        let tail = &theirs[theirs.len() / 2..];
        let heard = tone::dominant_frequency(tail, 8000).unwrap();
        assert!(
            (heard - f).abs() < 10.0,
            "ffmpeg heard {heard} Hz for {f} Hz"
        );
        let level = tone::rms(tail) / tone::rms(&input[input.len() / 2..]);
        assert!((0.6..1.4).contains(&level), "{f} Hz: level ratio {level}");
        // Two decoders of one bitstream agree closely (they differ in their
        // post-filters: G.729 in FFmpeg, G.729A in ours).
        let ours = decode_all(CodecKind::G729, &bytes, 20);
        let (lag, snr) = aligned_snr(&ours, &theirs, 800);
        println!("{f} Hz: ffmpeg vs our G.729 decoder: {snr:.1} dB at lag {lag}");
        assert!(
            snr > 10.0,
            "{f} Hz: decoders differ, {snr:.1} dB at lag {lag}"
        );
    }
}
