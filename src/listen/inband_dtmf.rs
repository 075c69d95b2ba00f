//! In-band DTMF detection (dual tones in the audio itself), sans-IO.
//!
//! Some peers (browsers playing oscillators, old gateways, IVRs recorded as
//! audio) send digits as tones rather than RFC 4733 events. The detector
//! takes 8 kHz PCM and follows ITU-T Q.24's tolerances:
//!
//! - frequency: within ±1.5 % accepted, beyond ±3.5 % rejected (the
//!   threshold sits at ±2.5 %). Each tone's frequency is *measured* (phase
//!   advance of its DFT bin between two overlapping sub-windows), not just
//!   its energy near the nominal bin, so the edges are sharp;
//! - twist: the high-group tone may be up to 8 dB weaker (normal twist) or
//!   4 dB stronger (reverse twist) than the low-group tone;
//! - level: each tone at least about -40 dBFS;
//! - purity: the two tones carry at least 70 % of the window's energy, which
//!   keeps speech and music from faking digits (talk-off);
//! - duration: 40 ms of tone is always reported, 20 ms never; a pause of
//!   40 ms separates two presses of one key, a 10 ms drop-out does not.
//!
//! Analysis windows are 20 ms long with a 10 ms hop; a digit needs three
//! consecutive valid windows and is reported once per press.

use std::f32::consts::PI;
use std::sync::OnceLock;

/// Sample rate the detector works at.
pub const RATE: u32 = 8000;
/// Samples per analysis window (20 ms).
const WIN: usize = 160;
/// Samples per hop (10 ms).
const HOP: usize = 80;
/// Offset between the two phase sub-windows (5 ms): ±100 Hz unambiguous.
const SUB_SHIFT: usize = 40;
/// Low (row) and high (column) group frequencies.
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Largest accepted relative frequency error (between Q.24's 1.5 and 3.5 %).
const FREQ_TOL: f32 = 0.025;
/// High group at most this many dB below the low group.
const NORMAL_TWIST_DB: f32 = 8.0;
/// High group at most this many dB above the low group.
const REVERSE_TWIST_DB: f32 = 4.0;
/// Smallest power (amplitude² / 2) of each tone: a peak of about 300.
const MIN_TONE_POWER: f32 = 300.0 * 300.0 / 2.0;
/// Share of the window's energy the two tones must carry.
const MIN_PURITY: f32 = 0.7;
/// Share of the window's energy the two strongest nominal bins must hold
/// before frequencies are measured. A clean digit at the frequency and
/// twist limits puts at least ~15 % of it there (a 1633 Hz tone 2.5 % off
/// keeps little of its power in its 50 Hz-wide bin), so one that passes
/// [`MIN_PURITY`] keeps over 10 %. Speech, noise and single tones mostly
/// fall below, and skip the costly part.
const MIN_NOMINAL_SHARE: f32 = 0.05;
/// Least energy of the first difference `x[n] - x[n-1]`, as a share of the
/// window's energy, that a digit can have. Differencing scales a sinusoid's
/// power by `4·sin²(πf/fs)`: 0.278 at the lowest accepted frequency
/// (697 Hz - 2.5 %), so two tones carrying [`MIN_PURITY`] of the energy give
/// at least 0.7 · 0.278 = 0.19, and a low-group tone with the high group at
/// the twist limit 0.35 · 0.7 = 0.24. Below 0.15 nothing can pass, and the
/// window skips the eight nominal bins: the benchmark's 400 Hz tone (0.10)
/// and most voiced speech, whose energy lies below 700 Hz.
const MIN_SLOPE_SHARE: f32 = 0.15;
/// Consecutive valid windows before a digit is reported.
const HITS_TO_REPORT: u32 = 3;
/// Consecutive invalid windows that end a press (a 30-40 ms pause).
const MISSES_TO_RELEASE: u32 = 4;

/// Detects DTMF digits in 8 kHz audio; see the module docs.
///
/// ```
/// use sipwire::listen::inband_dtmf::DtmfDetector;
/// let mut d = DtmfDetector::new();
/// let tone: Vec<i16> = (0..800)
///     .map(|n| {
///         let t = n as f32 / 8000.0;
///         (4000.0 * ((2.0 * std::f32::consts::PI * 770.0 * t).sin()
///             + (2.0 * std::f32::consts::PI * 1336.0 * t).sin())) as i16
///     })
///     .collect();
/// let mut digits = Vec::new();
/// d.push(&tone, &mut digits);
/// assert_eq!(digits, vec!['5']);
/// ```
pub struct DtmfDetector {
    /// The window being filled: `fill` samples. Inline and 16-bit (320
    /// bytes): it is touched on every call's every frame, and a heap `f32`
    /// buffer three times that size was where the detector waited on memory
    /// with a hundred calls per thread.
    buf: [i16; WIN],
    fill: usize,
    candidate: Option<char>,
    hits: u32,
    misses: u32,
    /// The digit of the press in progress, once reported.
    reported: Option<char>,
    /// The nominal bins of the current window's second half, kept for the
    /// next window (whose first half it is): see [`HalfBins`].
    carried: Option<HalfBins>,
}

/// The eight nominal DFT bins (re, im) of one half window (a hop). With a
/// hop of half the window, each window is the previous one's second half
/// followed by a new half, and `X = A(first) + e^{-jω·HOP}·A(second)`: a
/// window costs the bins of one half, not of two.
type HalfBins = [(f32, f32); 8];

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// Power (amplitude² / 2 for a sine) of `x` at `freq` Hz: Goertzel.
fn power_at(x: &[f32], freq: f32) -> f32 {
    let w = 2.0 * PI * freq / RATE as f32;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s0 = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    let n = x.len() as f32;
    2.0 * p / (n * n)
}

/// Per nominal frequency (rows, then columns): `e^{-jωn}` for n in 0..WIN
/// (cos, -sin). The same for every detector, so built once: a copy per
/// call (10 KB each) was rebuilt at every connection and, with the detector
/// on by default, evicted from cache between one call's windows and the
/// next's.
fn tables() -> &'static [([f32; WIN], [f32; WIN]); 8] {
    static TABLES: OnceLock<[([f32; WIN], [f32; WIN]); 8]> = OnceLock::new();
    TABLES.get_or_init(|| {
        std::array::from_fn(|k| {
            let f = if k < 4 { ROWS[k] } else { COLS[k - 4] };
            let w = 2.0 * PI * f / RATE as f32;
            (
                std::array::from_fn(|n| (w * n as f32).cos()),
                std::array::from_fn(|n| -(w * n as f32).sin()),
            )
        })
    })
}

impl DtmfDetector {
    /// A detector with no audio seen yet.
    pub fn new() -> Self {
        Self {
            buf: [0; WIN],
            fill: 0,
            candidate: None,
            hits: 0,
            misses: 0,
            reported: None,
            carried: None,
        }
    }

    /// Feed 8 kHz samples; digits found are appended to `out`.
    pub fn push(&mut self, mut samples: &[i16], out: &mut Vec<char>) {
        while !samples.is_empty() {
            let take = (WIN - self.fill).min(samples.len());
            self.buf[self.fill..self.fill + take].copy_from_slice(&samples[..take]);
            self.fill += take;
            samples = &samples[take..];
            if self.fill == WIN {
                let hit = self.analyse();
                self.step(hit, out);
                self.buf.copy_within(HOP.., 0);
                self.fill = WIN - HOP;
            }
        }
    }

    fn step(&mut self, hit: Option<char>, out: &mut Vec<char>) {
        match hit {
            Some(d) if Some(d) == self.candidate => self.hits += 1,
            Some(d) => {
                self.candidate = Some(d);
                self.hits = 1;
            }
            None => {}
        }
        if hit.is_some() && hit == self.candidate {
            self.misses = 0;
            if self.hits >= HITS_TO_REPORT && self.reported != hit {
                self.reported = hit;
                out.extend(hit);
            }
            return;
        }
        self.misses += 1;
        if self.misses >= MISSES_TO_RELEASE {
            self.reported = None;
            self.candidate = None;
            self.hits = 0;
        }
    }

    /// The digit in the current window, if it passes every check.
    fn analyse(&mut self) -> Option<char> {
        let carried = self.carried.take();
        let x: [f32; WIN] = std::array::from_fn(|n| f32::from(self.buf[n]));
        let x = &x;
        let total = dot(x, x) / WIN as f32;
        if total < 2.0 * MIN_TONE_POWER {
            return None;
        }
        if slope_energy(x) < MIN_SLOPE_SHARE * total * WIN as f32 {
            return None;
        }
        let first = carried.unwrap_or_else(|| half_bins(&x[..HOP]));
        let second = half_bins(&x[HOP..]);
        self.carried = Some(second);
        let p = window_powers(&first, &second);
        let ri = argmax(&p[..4]);
        let ci = argmax(&p[4..]);
        if p[ri] + p[4 + ci] < MIN_NOMINAL_SHARE * total {
            return None;
        }
        let fr = measured_freq(x, ri, ROWS[ri])?;
        let fc = measured_freq(x, 4 + ci, COLS[ci])?;
        let (pr, pc) = (power_at(x, fr), power_at(x, fc));
        if pr < MIN_TONE_POWER || pc < MIN_TONE_POWER {
            return None;
        }
        if (pr + pc) < MIN_PURITY * total {
            return None;
        }
        let twist_db = 10.0 * (pc / pr).log10();
        if !(-NORMAL_TWIST_DB..=REVERSE_TWIST_DB).contains(&twist_db) {
            return None;
        }
        Some(KEYS[ri][ci])
    }
}

/// Frequency near `nominal` from the phase advance of its DFT bin between
/// samples [0, WIN-SHIFT) and [SHIFT, WIN) of `x`; `None` when further than
/// [`FREQ_TOL`] from it.
fn measured_freq(x: &[f32; WIN], table: usize, nominal: f32) -> Option<f32> {
    let (c, s) = &tables()[table];
    let dft = |from: usize, to: usize| {
        let mut re = 0.0f32;
        let mut im = 0.0f32;
        for n in from..to {
            re += x[n] * c[n];
            im += x[n] * s[n];
        }
        (re, im)
    };
    let (ar, ai) = dft(0, WIN - SUB_SHIFT);
    let (br, bi) = dft(SUB_SHIFT, WIN);
    // arg(B · conj(A)) = δω · SHIFT (the nominal advance cancels out).
    let re = br * ar + bi * ai;
    let im = bi * ar - br * ai;
    if re == 0.0 && im == 0.0 {
        return None;
    }
    let dw = im.atan2(re) / SUB_SHIFT as f32;
    let f = nominal + dw * RATE as f32 / (2.0 * PI);
    ((f / nominal - 1.0).abs() <= FREQ_TOL).then_some(f)
}

/// `Σ (x[n] - x[n-1])²`: the energy of the window's first difference.
fn slope_energy(x: &[f32; WIN]) -> f32 {
    let (now, before) = (&x[1..], &x[..WIN - 1]);
    let mut acc = [0.0f32; 8];
    let chunks = now.chunks_exact(8).zip(before.chunks_exact(8));
    for (a, b) in chunks {
        for i in 0..8 {
            let d = a[i] - b[i];
            acc[i] += d * d;
        }
    }
    let tail = now.len() / 8 * 8;
    let rest: f32 = now[tail..]
        .iter()
        .zip(&before[tail..])
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    acc.iter().sum::<f32>() + rest
}

/// Half a half window: the folded length (see [`half_bins`]).
const FOLD: usize = HOP / 2;

/// Per nominal frequency: `cos ωd` and `sin ωd` at the offsets
/// `d = j + 1/2` (j in 0..FOLD) from a half window's centre, and
/// `(cos ωc, sin ωc)` at that centre `c = (HOP - 1) / 2`. 2.6 KB.
struct Folded {
    cos: [[f32; FOLD]; 8],
    sin: [[f32; FOLD]; 8],
    centre: [(f32, f32); 8],
    /// `e^{-jω·HOP}` (re, im): the phase step from one half window to the
    /// next. Here rather than read from [`tables`], whose 10 KB are needed
    /// only once a window passes the cheaper gates.
    hop: [(f32, f32); 8],
}

fn folded() -> &'static Folded {
    static FOLDED: OnceLock<Folded> = OnceLock::new();
    FOLDED.get_or_init(|| {
        let w = |k: usize| 2.0 * PI * if k < 4 { ROWS[k] } else { COLS[k - 4] } / RATE as f32;
        let c = (HOP - 1) as f32 / 2.0;
        Folded {
            cos: std::array::from_fn(|k| std::array::from_fn(|j| (w(k) * (j as f32 + 0.5)).cos())),
            sin: std::array::from_fn(|k| std::array::from_fn(|j| (w(k) * (j as f32 + 0.5)).sin())),
            centre: std::array::from_fn(|k| ((w(k) * c).cos(), (w(k) * c).sin())),
            hop: std::array::from_fn(|k| {
                let p = w(k) * HOP as f32;
                (p.cos(), -p.sin())
            }),
        }
    })
}

/// The nominal bins of one half window (`HOP` samples), `Σ x[n]·e^{-jωn}`,
/// folded about the centre: with `e[j] = x[c+d] + x[c-d]` and
/// `o[j] = x[c+d] - x[c-d]` (shared by all eight bins),
/// `re = cos ωc·Σ e·cos ωd - sin ωc·Σ o·sin ωd` and
/// `im = -(sin ωc·Σ e·cos ωd + cos ωc·Σ o·sin ωd)`: two dot products of
/// `HOP/2` per bin instead of two of `HOP`. The dot products have no
/// dependency chain, so they vectorise; Goertzel's recurrence (even eight
/// in lock-step) waits on each previous sample and cost about three times
/// as much, and this runs every 10 ms on every call.
fn half_bins(x: &[f32]) -> HalfBins {
    let f = folded();
    let mut e = [0.0f32; FOLD];
    let mut o = [0.0f32; FOLD];
    for j in 0..FOLD {
        let (hi, lo) = (x[FOLD + j], x[FOLD - 1 - j]);
        e[j] = hi + lo;
        o[j] = hi - lo;
    }
    std::array::from_fn(|k| {
        let (ec, os) = (dot(&e, &f.cos[k]), dot(&o, &f.sin[k]));
        let (cc, sc) = f.centre[k];
        (cc * ec - sc * os, -(sc * ec + cc * os))
    })
}

/// Power at the eight nominal frequencies of the window made of two
/// consecutive halves.
fn window_powers(first: &HalfBins, second: &HalfBins) -> [f32; 8] {
    let hop = &folded().hop;
    let n2 = (WIN * WIN) as f32;
    std::array::from_fn(|k| {
        let (pr, pi) = hop[k];
        let (ar, ai) = first[k];
        let (br, bi) = second[k];
        let re = ar + pr * br - pi * bi;
        let im = ai + pr * bi + pi * br;
        2.0 * (re * re + im * im) / n2
    })
}

/// `Σ a[n]·b[n]` over `a` (a multiple of 8 long), in eight independent
/// partial sums.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b[..a.len()].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += a[i] * b[i];
        }
    }
    acc.iter().sum()
}

fn argmax(p: &[f32]) -> usize {
    (1..p.len()).fold(0, |a, i| if p[i] > p[a] { i } else { a })
}

/// The nominal (low, high) frequencies of a DTMF key, for generating tones.
pub fn key_frequencies(key: char) -> Option<(f32, f32)> {
    let key = key.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == key)
            .map(|c| (ROWS[r], COLS[c]))
    })
}

/// Synthesises a DTMF key at 8 kHz: `ms` of tone, each component at peak
/// `amplitude` (the high group scaled by `twist_db`), frequencies scaled by
/// `1 + freq_err`. For tests, demos and in-band prompts.
pub fn synthesize(key: char, ms: u32, amplitude: f32, twist_db: f32, freq_err: f32) -> Vec<i16> {
    let Some((lo, hi)) = key_frequencies(key) else {
        return Vec::new();
    };
    let (lo, hi) = (lo * (1.0 + freq_err), hi * (1.0 + freq_err));
    let hi_amp = amplitude * 10f32.powf(twist_db / 20.0);
    (0..(RATE * ms / 1000) as usize)
        .map(|n| {
            let t = n as f32 / RATE as f32;
            let v = amplitude * (2.0 * PI * lo * t).sin() + hi_amp * (2.0 * PI * hi * t).sin();
            v.round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn detect(samples: &[i16]) -> String {
        let mut d = DtmfDetector::new();
        let mut out = Vec::new();
        d.push(samples, &mut out);
        // Flush: trailing silence lets a press end.
        d.push(&[0; 800], &mut out);
        out.into_iter().collect()
    }

    fn silence(ms: u32) -> Vec<i16> {
        vec![0; (RATE * ms / 1000) as usize]
    }

    /// Deterministic white-ish noise (xorshift), peak `amp`.
    pub(crate) fn noise(n: usize, amp: f32, seed: u32) -> Vec<i16> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                ((s as f32 / u32::MAX as f32 * 2.0 - 1.0) * amp) as i16
            })
            .collect()
    }

    fn seq(keys: &str, tone_ms: u32, gap_ms: u32) -> Vec<i16> {
        let mut v = silence(50);
        for k in keys.chars() {
            v.extend(synthesize(k, tone_ms, 5000.0, 0.0, 0.0));
            v.extend(silence(gap_ms));
        }
        v
    }

    #[test]
    fn every_key_once() {
        let keys = "0123456789*#ABCD";
        assert_eq!(detect(&seq(keys, 100, 70)), keys);
    }

    #[test]
    fn repeated_key_needs_a_pause() {
        assert_eq!(detect(&seq("1111", 60, 45)), "1111");
        // A 10 ms drop-out inside one press is bridged.
        let mut v = synthesize('5', 60, 5000.0, 0.0, 0.0);
        v.extend(silence(10));
        v.extend(synthesize('5', 60, 5000.0, 0.0, 0.0));
        assert_eq!(detect(&v), "5");
    }

    #[test]
    fn frequency_tolerance_edges() {
        for key in "0123456789*#ABCD".chars() {
            for err in [-0.015f32, 0.015, -0.01, 0.0, 0.01] {
                let v = synthesize(key, 80, 5000.0, 0.0, err);
                assert_eq!(detect(&v), key.to_string(), "key {key} err {err}");
            }
            for err in [-0.035f32, 0.035, -0.04, 0.04, -0.05, 0.05] {
                let v = synthesize(key, 80, 5000.0, 0.0, err);
                assert_eq!(detect(&v), "", "key {key} err {err} must be rejected");
            }
        }
    }

    /// (strongest row + strongest column nominal power) / window energy.
    fn nominal_share(x: &[i16]) -> f32 {
        let x: Vec<f32> = x[..WIN].iter().map(|&v| f32::from(v)).collect();
        let total = x.iter().map(|v| v * v).sum::<f32>() / WIN as f32;
        let p = window_powers(&half_bins(&x[..HOP]), &half_bins(&x[HOP..]));
        (p[argmax(&p[..4])] + p[4 + argmax(&p[4..])]) / total
    }

    #[test]
    fn the_nominal_share_gate_never_drops_an_acceptable_digit() {
        // Every key, at the frequency and twist limits, at every alignment
        // in a hop: at least twice the gate's share, so the gate only ever
        // skips what the full analysis would reject anyway.
        let mut worst = f32::MAX;
        for key in "0123456789*#ABCD".chars() {
            for err in [-FREQ_TOL, -0.015, 0.0, 0.015, FREQ_TOL] {
                for twist in [-NORMAL_TWIST_DB, 0.0, REVERSE_TWIST_DB] {
                    let v = synthesize(key, 40, 4000.0, twist, err);
                    for lead in (0..HOP).step_by(8) {
                        worst = worst.min(nominal_share(&v[lead..]));
                    }
                }
            }
        }
        assert!(worst >= 2.0 * MIN_NOMINAL_SHARE, "worst share {worst}");
        eprintln!("worst share of an acceptable digit: {worst}");
        // Tones away from the DTMF bins (the benchmark's 400 Hz, a 2500 Hz beep) stop at the gate.
        assert!(nominal_share(&window_of(400.0)) < MIN_NOMINAL_SHARE);
        assert!(nominal_share(&window_of(2500.0)) < MIN_NOMINAL_SHARE);
    }

    /// One window of a loud sine at `hz`.
    fn window_of(hz: f32) -> Vec<i16> {
        crate::tone::sine(hz, RATE, WIN, 8000)
    }

    /// `v` plus a 120 Hz hum of `ratio` times `v`'s power.
    fn with_hum(v: &[i16], ratio: f32) -> Vec<i16> {
        let p = v.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / v.len() as f32;
        let hum = crate::tone::sine(120.0, RATE, v.len(), (2.0 * p * ratio).sqrt() as i16);
        v.iter().zip(hum).map(|(&s, h)| s + h).collect()
    }

    /// First-difference energy / window energy, as the slope gate sees it.
    fn slope_share(x: &[i16]) -> f32 {
        let w: [f32; WIN] = std::array::from_fn(|n| f32::from(x[n]));
        slope_energy(&w) / w.iter().map(|v| v * v).sum::<f32>()
    }

    #[test]
    fn the_slope_gate_never_drops_an_acceptable_digit() {
        // Every key at the frequency and twist limits, at every alignment,
        // alone and with a 120 Hz hum taking the 30 % of the energy that
        // MIN_PURITY leaves (the hum barely moves the first difference):
        // above the gate with room to spare.
        let (mut worst, mut worst_hum) = (f32::MAX, f32::MAX);
        for key in "0123456789*#ABCD".chars() {
            for err in [-FREQ_TOL, 0.0, FREQ_TOL] {
                for twist in [-NORMAL_TWIST_DB, 0.0, REVERSE_TWIST_DB] {
                    let v = synthesize(key, 40, 4000.0, twist, err);
                    // Hum power = 3/7 of the tones': 30 % of the sum.
                    let hum = with_hum(&v, 3.0 / 7.0);
                    for lead in (0..HOP).step_by(8) {
                        worst = worst.min(slope_share(&v[lead..]));
                        worst_hum = worst_hum.min(slope_share(&hum[lead..]));
                    }
                }
            }
        }
        eprintln!("worst slope share of an acceptable digit: {worst}, with hum {worst_hum}");
        assert!(worst >= 2.0 * MIN_SLOPE_SHARE, "worst slope share {worst}");
        assert!(
            worst_hum >= 1.4 * MIN_SLOPE_SHARE,
            "worst slope share with hum {worst_hum}"
        );
        // The hum case is still a digit.
        let v = synthesize('1', 80, 4000.0, -NORMAL_TWIST_DB + 1.0, -0.02);
        let hum = with_hum(&v, 0.35);
        assert_eq!(detect(&hum), "1");
        // The benchmark's 400 Hz tone and low voiced sounds stop at the gate.
        assert!(slope_share(&window_of(400.0)) < MIN_SLOPE_SHARE);
        assert!(slope_share(&window_of(200.0)) < MIN_SLOPE_SHARE);
        assert!(slope_share(&window_of(1000.0)) > MIN_SLOPE_SHARE);
    }

    #[test]
    fn nominal_powers_match_goertzel() {
        // Every window of a stream, as the detector computes it (the first
        // half carried over from the window before), against Goertzel over
        // the whole window.
        let mut stream = synthesize('7', 40, 3000.0, -3.0, 0.01);
        stream.extend(noise(2 * WIN, 9000.0, 3));
        stream.extend(synthesize('D', 40, 9000.0, 2.0, -0.02));
        let x: Vec<f32> = stream.iter().map(|&v| f32::from(v)).collect();
        let mut carried = half_bins(&x[..HOP]);
        let mut start = 0;
        while start + WIN <= x.len() {
            let w = &x[start..start + WIN];
            let second = half_bins(&w[HOP..]);
            let p = window_powers(&carried, &second);
            for (k, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
                let g = power_at(w, *f);
                assert!(
                    (p[k] - g).abs() <= 1e-3 * g.max(1.0),
                    "window at {start}, {f} Hz: {} vs {g}",
                    p[k]
                );
            }
            carried = second;
            start += HOP;
        }
        // And the detector's own carrying agrees: a tone after silence
        // (nothing carried) and within a tone (carried) are both found.
        let mut v = vec![0i16; 3 * HOP + 17];
        v.extend(synthesize('7', 60, 3000.0, -3.0, 0.01));
        v.extend(vec![0i16; 400]);
        v.extend(synthesize('D', 60, 9000.0, 2.0, -0.02));
        assert_eq!(detect(&v), "7D");
    }

    #[test]
    fn one_tone_off_frequency_is_rejected() {
        // Row right, column 3.5 % high: not a digit.
        let n = 640;
        let v: Vec<i16> = (0..n)
            .map(|i| {
                let t = i as f32 / 8000.0;
                (5000.0 * (2.0 * PI * 770.0 * t).sin()
                    + 5000.0 * (2.0 * PI * 1336.0 * 1.035 * t).sin()) as i16
            })
            .collect();
        assert_eq!(detect(&v), "");
    }

    #[test]
    fn twist_limits() {
        for twist in [-7.0f32, -4.0, 0.0, 3.0] {
            assert_eq!(
                detect(&synthesize('8', 80, 4000.0, twist, 0.0)),
                "8",
                "{twist} dB"
            );
        }
        for twist in [-10.0f32, -12.0, 6.0, 8.0] {
            assert_eq!(
                detect(&synthesize('8', 80, 4000.0, twist, 0.0)),
                "",
                "{twist} dB"
            );
        }
    }

    #[test]
    fn duration_limits() {
        for key in "159#".chars() {
            assert_eq!(
                detect(&synthesize(key, 40, 5000.0, 0.0, 0.0)),
                key.to_string()
            );
            assert_eq!(
                detect(&synthesize(key, 45, 5000.0, 0.0, 0.0)),
                key.to_string()
            );
            assert_eq!(detect(&synthesize(key, 20, 5000.0, 0.0, 0.0)), "");
            assert_eq!(detect(&synthesize(key, 15, 5000.0, 0.0, 0.0)), "");
        }
        // Alignment within the 10 ms hop does not matter.
        for lead in 0..10 {
            let mut v = silence(lead);
            v.extend(synthesize('2', 40, 5000.0, 0.0, 0.0));
            assert_eq!(detect(&v), "2", "lead {lead} ms");
        }
    }

    #[test]
    fn level_and_noise() {
        assert_eq!(
            detect(&synthesize('3', 80, 200.0, 0.0, 0.0)),
            "",
            "too quiet"
        );
        assert_eq!(detect(&synthesize('3', 80, 500.0, 0.0, 0.0)), "3");
        // Tones at 20 dB SNR over white noise still detected.
        let t = synthesize('6', 100, 3000.0, 0.0, 0.0);
        let n = noise(t.len(), 3000.0 * 0.1 * 1.7, 7);
        let mixed: Vec<i16> = t.iter().zip(&n).map(|(a, b)| a + b).collect();
        assert_eq!(detect(&mixed), "6");
        // Noise alone, and a single tone, are not digits.
        assert_eq!(detect(&noise(16000, 8000.0, 3)), "");
        assert_eq!(detect(&crate::tone::sine(697.0, 8000, 8000, 8000)), "");
        assert_eq!(detect(&crate::tone::sine(1000.0, 8000, 8000, 8000)), "");
    }

    #[test]
    fn survives_g711() {
        use crate::audio::g711;
        let v = seq("147*", 80, 60);
        let mut enc = Vec::new();
        g711::encode_alaw(&v, &mut enc);
        let mut dec = Vec::new();
        g711::decode_alaw(&enc, &mut dec);
        assert_eq!(detect(&dec), "147*");
    }

    #[test]
    fn key_frequencies_cover_the_pad() {
        assert_eq!(key_frequencies('5'), Some((770.0, 1336.0)));
        assert_eq!(key_frequencies('d'), Some((941.0, 1633.0)));
        assert_eq!(key_frequencies('x'), None);
        assert!(synthesize('x', 100, 1.0, 0.0, 0.0).is_empty());
    }
}
