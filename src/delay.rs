//! One-way RTP delay from the `abs-send-time` header extension
//! (<http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time>): the sender
//! stamps each packet with its wall-clock send time in seconds, 6.18 fixed
//! point, modulo 64 s; the receiver subtracts that from its own wall clock.
//! Meaningful when both ends share a clock (same host, or NTP-synced hosts to
//! within the precision wanted).
//!
//! Everything here is pure: wall time comes in as a [`WallAnchor`] mapping of
//! an `Instant`, captured by the I/O layer (the shard), never read here.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The extension's URI (extmap).
pub const ABS_SEND_TIME_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";

/// Samples outside this window (seconds) are dropped: a negative delay beyond
/// clock noise, or a stale packet, says nothing about the path.
const MIN_DELAY_S: f64 = -1.0;
const MAX_DELAY_S: f64 = 10.0;

/// The 6-bit seconds field wraps every 64 s.
const WRAP_S: f64 = 64.0;
const FRACTION_BITS: u32 = 18;
const FIELD_MASK: u32 = 0x00FF_FFFF;

/// Maps `Instant`s to time since the UNIX epoch through one (Instant,
/// SystemTime) pair. One anchor per process keeps every mapping monotonic and
/// consistent, so two processes on one host agree to within the microseconds
/// between their two anchor readings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallAnchor {
    at: Instant,
    unix: Duration,
}

impl WallAnchor {
    /// `wall` is the wall-clock time read (as closely as possible) at `at`.
    /// A wall clock before 1970 is taken as the epoch.
    pub fn new(at: Instant, wall: SystemTime) -> Self {
        WallAnchor {
            at,
            unix: wall.duration_since(UNIX_EPOCH).unwrap_or_default(),
        }
    }

    /// Time since the UNIX epoch at `t`.
    pub fn unix_time(&self, t: Instant) -> Duration {
        match t.checked_duration_since(self.at) {
            Some(after) => self.unix + after,
            None => self.unix.saturating_sub(self.at - t),
        }
    }
}

/// The 3-byte extension payload for a send time (since the UNIX epoch).
///
/// NTP and UNIX time agree modulo 64 s (2208988800 s is a multiple of 64),
/// so this is the value the spec defines from NTP time.
pub fn encode_abs_send_time(unix: Duration) -> [u8; 3] {
    let v = ((unix.as_nanos() << FRACTION_BITS) / 1_000_000_000) as u32 & FIELD_MASK;
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The send time in seconds modulo 64 from an extension payload; `None` if
/// it is not 3 bytes.
pub fn decode_abs_send_time(payload: &[u8]) -> Option<f64> {
    let b: [u8; 3] = payload.try_into().ok()?;
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    Some(v as f64 / (1u32 << FRACTION_BITS) as f64)
}

/// One-way delay in seconds: `recv_unix` minus a decoded send time, taken
/// across the 64 s wrap; `None` outside [-1 s, 10 s].
pub fn one_way_delay(send_mod64: f64, recv_unix: Duration) -> Option<f64> {
    let recv = (recv_unix.as_nanos() % 64_000_000_000) as f64 / 1e9;
    let mut d = recv - send_mod64;
    if d >= WRAP_S / 2.0 {
        d -= WRAP_S;
    } else if d < -WRAP_S / 2.0 {
        d += WRAP_S;
    }
    (MIN_DELAY_S..=MAX_DELAY_S).contains(&d).then_some(d)
}

/// Bin layout, in microseconds: 50 µs bins below 5 ms, 500 µs to 50 ms,
/// 5 ms to 500 ms, then one overflow bin.
const FINE: usize = 100;
const MID: usize = 90;
const COARSE: usize = 90;
/// Number of bins, overflow included.
pub const BINS: usize = FINE + MID + COARSE + 1;

fn bin_of(delay_s: f64) -> usize {
    // Negative delays (clock noise between two anchors) land in the first bin.
    let us = (delay_s * 1e6).max(0.0) as u64;
    match us {
        0..5_000 => (us / 50) as usize,
        5_000..50_000 => FINE + ((us - 5_000) / 500) as usize,
        50_000..500_000 => FINE + MID + ((us - 50_000) / 5_000) as usize,
        _ => BINS - 1,
    }
}

/// Lower edge and width of bin `i`, in microseconds (overflow: width 0).
fn bin_edge_us(i: usize) -> (u64, u64) {
    let i = i as u64;
    let (fine, mid) = (FINE as u64, MID as u64);
    if i < fine {
        (i * 50, 50)
    } else if i < fine + mid {
        (5_000 + (i - fine) * 500, 500)
    } else if i < fine + mid + COARSE as u64 {
        (50_000 + (i - fine - mid) * 5_000, 5_000)
    } else {
        (500_000, 0)
    }
}

/// Fixed-bin delay histogram: O(1) memory whatever the call length.
#[derive(Clone, Debug)]
pub struct DelayHistogram {
    counts: Box<[u64; BINS]>,
    total: u64,
}

impl Default for DelayHistogram {
    fn default() -> Self {
        DelayHistogram {
            counts: Box::new([0; BINS]),
            total: 0,
        }
    }
}

impl DelayHistogram {
    /// Count one sample (seconds).
    pub fn record(&mut self, delay_s: f64) {
        self.counts[bin_of(delay_s)] += 1;
        self.total += 1;
    }

    /// Samples counted.
    pub fn samples(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0..=1) in seconds, as the middle of the bin holding
    /// it (the overflow bin reports its 500 ms edge); `None` with no samples.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (edge, width) = bin_edge_us(i);
                return Some((edge as f64 + width as f64 / 2.0) / 1e6);
            }
        }
        None
    }

    /// Non-empty bins as (lower edge in ms, e.g. `"0.35"`, count).
    pub fn nonempty_bins(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (format!("{}", bin_edge_us(i).0 as f64 / 1000.0), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_at_6_18_resolution() {
        let t = Duration::from_secs_f64(1_700_000_123.456_789);
        let enc = encode_abs_send_time(t);
        let back = decode_abs_send_time(&enc).unwrap();
        let want = 1_700_000_123.456_789 % 64.0;
        assert!((back - want).abs() < 1.0 / 262_144.0, "{back} vs {want}");
        // 1.5 s is exactly 0x060000 in 6.18.
        assert_eq!(encode_abs_send_time(Duration::from_millis(1500)), [6, 0, 0]);
        assert_eq!(decode_abs_send_time(&[1, 2]), None);
    }

    #[test]
    fn field_wraps_at_64_s() {
        let a = encode_abs_send_time(Duration::from_secs_f64(3.25));
        let b = encode_abs_send_time(Duration::from_secs_f64(64.0 + 3.25));
        assert_eq!(a, b);
        let last = encode_abs_send_time(Duration::from_nanos(63_999_999_000));
        assert_eq!(last, [0xFF, 0xFF, 0xFF]);
        assert_eq!(encode_abs_send_time(Duration::from_secs(64)), [0, 0, 0]);
    }

    #[test]
    fn delay_across_the_wrap() {
        // Sent 0.01 s before a 64 s boundary, received 0.02 s after it.
        let send = decode_abs_send_time(&encode_abs_send_time(Duration::from_secs_f64(
            6_400.0 - 0.01,
        )))
        .unwrap();
        let d = one_way_delay(send, Duration::from_secs_f64(6_400.02)).unwrap();
        assert!((d - 0.03).abs() < 1e-5, "{d}");
        // Slightly negative (clock noise) is kept; far out of range is not.
        let send = decode_abs_send_time(&encode_abs_send_time(Duration::from_secs(100))).unwrap();
        assert!(one_way_delay(send, Duration::from_secs_f64(99.9)).unwrap() < 0.0);
        assert_eq!(one_way_delay(send, Duration::from_secs(120)), None);
        assert_eq!(one_way_delay(send, Duration::from_secs(98)), None);
    }

    #[test]
    fn anchor_maps_instants_both_ways() {
        let t0 = Instant::now();
        let a = WallAnchor::new(
            t0 + Duration::from_secs(1),
            UNIX_EPOCH + Duration::from_secs(50),
        );
        assert_eq!(
            a.unix_time(t0 + Duration::from_secs(3)),
            Duration::from_secs(52)
        );
        assert_eq!(a.unix_time(t0), Duration::from_secs(49));
    }

    #[test]
    fn histogram_quantiles_and_bins() {
        let mut h = DelayHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..98 {
            h.record(0.000_37); // bin [0.35, 0.40) ms
        }
        h.record(0.012_2); // [12, 12.5) ms
        h.record(0.9); // overflow
        assert_eq!(h.samples(), 100);
        let p50 = h.quantile(0.5).unwrap();
        assert!((p50 - 0.000_375).abs() < 1e-9, "{p50}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((p99 - 0.012_25).abs() < 1e-9, "{p99}");
        assert_eq!(h.quantile(1.0), Some(0.5));
        let bins: Vec<(String, u64)> = h.nonempty_bins().collect();
        assert_eq!(
            bins,
            vec![("0.35".into(), 98), ("12".into(), 1), ("500".into(), 1)]
        );
        h.record(-0.000_2);
        assert_eq!(h.nonempty_bins().next(), Some(("0".into(), 1)));
        // Bin edges are contiguous across the three widths.
        for i in 1..BINS {
            let (prev, w) = bin_edge_us(i - 1);
            assert_eq!(bin_edge_us(i).0, prev + w, "bin {i}");
            assert_eq!(bin_of(bin_edge_us(i).0 as f64 / 1e6 + 1e-9), i);
        }
    }
}
