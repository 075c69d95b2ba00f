//! Power spectrum of one 20 ms frame at 8 kHz (Hann window, 256-point FFT),
//! shared by the voice activity detector and the tone tracker.

use std::f32::consts::PI;

/// Samples per frame (20 ms at 8 kHz).
pub const FRAME: usize = 160;
/// FFT size (frames are zero-padded).
pub const N: usize = 256;
/// Hz per FFT bin.
pub const BIN_HZ: f32 = 8000.0 / N as f32;

/// Reusable FFT state: window, twiddles and scratch.
pub struct Spectrum {
    window: Vec<f32>,
    twiddles: Vec<(f32, f32)>,
    re: Vec<f32>,
    im: Vec<f32>,
    /// `power[k]` for bins 0..=N/2 after [`Spectrum::analyse`].
    pub power: Vec<f32>,
}

impl Default for Spectrum {
    fn default() -> Self {
        Self::new()
    }
}

impl Spectrum {
    /// Precomputes the window and twiddle factors.
    pub fn new() -> Self {
        let window = (0..FRAME)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f32 / FRAME as f32).cos())
            .collect();
        let twiddles = (0..N / 2)
            .map(|k| {
                let a = -2.0 * PI * k as f32 / N as f32;
                (a.cos(), a.sin())
            })
            .collect();
        Self {
            window,
            twiddles,
            re: vec![0.0; N],
            im: vec![0.0; N],
            power: vec![0.0; N / 2 + 1],
        }
    }

    /// Fills [`Spectrum::power`] from one frame of [`FRAME`] samples.
    pub fn analyse(&mut self, frame: &[i16]) {
        for i in 0..N {
            self.re[i] = if i < FRAME && i < frame.len() {
                f32::from(frame[i]) * self.window[i]
            } else {
                0.0
            };
            self.im[i] = 0.0;
        }
        fft(&mut self.re, &mut self.im, &self.twiddles);
        for k in 0..=N / 2 {
            self.power[k] = self.re[k] * self.re[k] + self.im[k] * self.im[k];
        }
    }

    /// Bin index of `hz`, rounded.
    pub fn bin(hz: f32) -> usize {
        ((hz / BIN_HZ).round() as usize).min(N / 2)
    }
}

/// In-place iterative radix-2 FFT of length `re.len()` (a power of two).
fn fft(re: &mut [f32], im: &mut [f32], tw: &[(f32, f32)]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let step = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (wr, wi) = tw[k * step];
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * wr - im[b] * wi;
                let ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_peaks_at_its_bin() {
        let mut s = Spectrum::new();
        for f in [300.0f32, 1000.0, 2500.0, 3500.0] {
            s.analyse(&crate::tone::sine(f, 8000, FRAME, 8000));
            let (k, _) =
                s.power
                    .iter()
                    .enumerate()
                    .fold((0, -1.0), |a, (i, &p)| if p > a.1 { (i, p) } else { a });
            assert!((k as f32 * BIN_HZ - f).abs() <= BIN_HZ, "{f}: bin {k}");
        }
        s.analyse(&[0; FRAME]);
        assert!(s.power.iter().all(|&p| p == 0.0));
    }
}
