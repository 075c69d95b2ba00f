//! Sample-rate checks and conversions shared by the pipeline and its callers.

use super::CANONICAL_RATE;
use crate::audio::resample::Resampler;
use crate::error::{Error, Result};

pub(super) fn check_rate(rate: u32) -> Result<()> {
    if [8000, 16000, 48000].contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "sampleRate must be 8000, 16000 or 48000, got {rate}"
        )))
    }
}

/// Append `input` (at `from`) to `out` at `to`, reusing a cached resampler.
pub(crate) fn convert(
    cache: &mut Vec<((u32, u32), Resampler)>,
    from: u32,
    to: u32,
    input: &[i16],
    out: &mut Vec<i16>,
) {
    if from == to {
        out.extend_from_slice(input);
        return;
    }
    let idx = match cache.iter().position(|(k, _)| *k == (from, to)) {
        Some(i) => i,
        None => match Resampler::new(from, to) {
            Ok(r) => {
                cache.push(((from, to), r));
                cache.len() - 1
            }
            Err(_) => return,
        },
    };
    cache[idx].1.process(input, out);
}

/// Bring PCM at any rate to one the pipeline accepts: 8, 16 and 48 kHz pass
/// through; anything else (44.1 kHz WAVs, say) is linearly interpolated to 48 kHz.
pub fn to_supported_rate(samples: Vec<i16>, rate: u32) -> Result<(Vec<i16>, u32)> {
    if [8000, 16000, 48000].contains(&rate) {
        return Ok((samples, rate));
    }
    if !(4000..=192_000).contains(&rate) {
        return Err(Error::InvalidArgument(format!(
            "unsupported sample rate {rate} Hz"
        )));
    }
    let n_out = (samples.len() as u64 * CANONICAL_RATE as u64 / rate as u64) as usize;
    let mut out = Vec::with_capacity(n_out);
    for i in 0..n_out {
        let pos = i as f64 * rate as f64 / CANONICAL_RATE as f64;
        let k = pos as usize;
        let frac = pos - k as f64;
        let a = samples.get(k).copied().unwrap_or(0) as f64;
        let b = samples.get(k + 1).copied().unwrap_or(a as i16) as f64;
        out.push((a + (b - a) * frac).round() as i16);
    }
    Ok((out, CANONICAL_RATE))
}
