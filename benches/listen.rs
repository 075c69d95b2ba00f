//! In-band DTMF detector cost per 20 ms frame at 8 kHz, for the inputs a
//! call carries: silence (stopped by the energy gate), steady 1 kHz and
//! 400 Hz tones (loud, not DTMF: the nominal bins run, the share gate stops
//! them; bench/ plays 400 Hz) and a digit (every check runs).
//! Run: cargo bench --no-default-features --bench listen
use sipwire::listen::inband_dtmf::{synthesize, DtmfDetector};
use std::time::Instant;

fn main() {
    let secs = 20;
    let n = 8000 * secs;
    let silence = vec![0i16; n];
    let tone = sipwire::tone::sine(1000.0, 8000, n, 8000);
    let low = sipwire::tone::sine(400.0, 8000, n, 8000);
    let digit: Vec<i16> = synthesize('5', 1000 * secs as u32, 6000.0, -2.0, 0.0);
    for (label, input) in [
        ("silence", &silence),
        ("1 kHz tone", &tone),
        ("400 Hz tone", &low),
        ("digit 5", &digit),
    ] {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let mut d = DtmfDetector::new();
            let mut out = Vec::new();
            let t = Instant::now();
            for frame in input.chunks_exact(160) {
                d.push(frame, &mut out);
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / (input.len() / 160) as f64);
            std::hint::black_box(&out);
        }
        println!("{label:12} {best:7.3} us per 20 ms frame");
    }
}
