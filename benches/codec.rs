//! Codec cost per 20 ms frame, encode and decode measured apart, for every
//! codec (Opus by complexity).
//! Run: cargo bench --no-default-features --bench codec
use sipwire::audio::codec::{CodecKind, Decoder, Encoder};
use std::time::Instant;

fn main() {
    let pcm: Vec<i16> = sipwire::tone::sine(440.0, 48000, 960, 8000);
    let pcm8: Vec<i16> = sipwire::tone::sine(440.0, 8000, 160, 8000);
    let pcm16: Vec<i16> = sipwire::tone::sine(440.0, 16000, 320, 8000);
    for (kind, frame, complexities) in [
        (CodecKind::Opus, &pcm, vec![0, 1, 3, 5, 10]),
        (CodecKind::G722, &pcm16, vec![0]),
        (CodecKind::Pcmu, &pcm8, vec![0]),
        (CodecKind::Pcma, &pcm8, vec![0]),
        (CodecKind::G729, &pcm8, vec![0]),
    ] {
        for c in complexities {
            let mut enc = Encoder::with_complexity(kind, c).expect("encoder");
            let mut dec = Decoder::new(kind).expect("decoder");
            let n = 2000;
            // Encode n frames, keeping the payloads, then decode them: the
            // decoder sees a real stream and each side is timed alone.
            let mut payloads: Vec<Vec<u8>> = vec![Vec::new(); n];
            let t = Instant::now();
            for out in payloads.iter_mut() {
                enc.encode(frame, out).expect("encode");
            }
            let enc_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
            let mut pcm_out = Vec::new();
            let t = Instant::now();
            for p in &payloads {
                pcm_out.clear();
                dec.decode(Some(p), &mut pcm_out).expect("decode");
            }
            let dec_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
            let label = if kind == CodecKind::Opus {
                format!("{kind:?} complexity {c}")
            } else {
                format!("{kind:?}")
            };
            println!(
                "{label}: encode {enc_us:.1} us, decode {dec_us:.1} us, total {:.1} us per 20 ms frame, {} bytes",
                enc_us + dec_us,
                payloads[n - 1].len()
            );
        }
    }
}
