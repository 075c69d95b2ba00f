//! Codec cost per 20 ms frame (encode + decode), by Opus complexity.
//! Run: cargo bench --no-default-features --bench codec
use sipwire::audio::codec::{CodecKind, Decoder, Encoder};
use std::time::Instant;

fn main() {
    let pcm: Vec<i16> = sipwire::tone::sine(440.0, 48000, 960, 8000);
    let pcm8: Vec<i16> = sipwire::tone::sine(440.0, 8000, 160, 8000);
    for (kind, frame, complexities) in [
        (CodecKind::Opus, &pcm, vec![0, 1, 3, 5, 10]),
        (CodecKind::Pcmu, &pcm8, vec![0]),
    ] {
        for c in complexities {
            let mut enc = Encoder::with_complexity(kind, c).expect("encoder");
            let mut dec = Decoder::new(kind).expect("decoder");
            let (mut out, mut pcm_out) = (Vec::new(), Vec::new());
            let n = 2000;
            let t = Instant::now();
            for _ in 0..n {
                out.clear();
                pcm_out.clear();
                enc.encode(frame, &mut out).expect("encode");
                dec.decode(Some(&out), &mut pcm_out).expect("decode");
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
            println!(
                "{kind:?} complexity {c}: {us:.1} us per frame (encode+decode), {} bytes",
                out.len()
            );
        }
    }
}
