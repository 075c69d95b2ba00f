//! G.722 (ITU-T G.722, 64 kbit/s sub-band ADPCM) through the `audio-codec`
//! crate: 20 ms of 16 kHz PCM (320 samples) ⇄ 160 bytes, one byte per
//! pair of samples (RFC 3551 §4.5.2: the RTP clock still counts 8000 Hz).
//!
//! ```
//! use sipwire::audio::g722;
//! let mut enc = g722::Encoder::default();
//! let mut bytes = Vec::new();
//! enc.encode(&[0i16; 320], &mut bytes);
//! assert_eq!(bytes.len(), 160);
//! let mut pcm = Vec::new();
//! g722::Decoder::default().decode(&bytes, &mut pcm);
//! assert_eq!(pcm.len(), 320);
//! ```

use audio_codec::{Decoder as _, Encoder as _};

/// Stateful G.722 encoder (64 kbit/s mode, 16 kHz input).
#[derive(Default)]
pub struct Encoder(audio_codec::g722::G722Encoder);

impl Encoder {
    /// Encodes 16 kHz PCM (an even number of samples), appending one byte
    /// per two samples to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.0.max_encode_bytes(pcm.len()), 0);
        // Only a too-small buffer can fail, and it was sized by the codec.
        let n = self.0.encode_into(pcm, &mut out[start..]).unwrap_or(0);
        out.truncate(start + n);
    }
}

/// Stateful G.722 decoder (64 kbit/s mode, 16 kHz output).
#[derive(Default)]
pub struct Decoder(audio_codec::g722::G722Decoder);

impl Decoder {
    /// Decodes a payload, appending two 16 kHz samples per byte to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let start = out.len();
        out.resize(start + self.0.max_decode_samples(payload.len()), 0);
        let n = self.0.decode_into(payload, &mut out[start..]).unwrap_or(0);
        out.truncate(start + n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone;

    fn snr_db(reference: &[i16], got: &[i16]) -> f64 {
        let sig: f64 = reference.iter().map(|&x| f64::from(x).powi(2)).sum();
        let err: f64 = reference
            .iter()
            .zip(got)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        10.0 * (sig / err.max(1.0)).log10()
    }

    /// The codec's QMF pair delays the signal by 22 samples at 16 kHz;
    /// find the lag that best aligns output with input.
    fn best_snr(input: &[i16], output: &[i16]) -> (usize, f64) {
        (0..40)
            .map(|lag| {
                let n = input.len() - 40;
                (lag, snr_db(&input[..n], &output[lag..lag + n]))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
    }

    #[test]
    fn tones_round_trip_with_high_snr() {
        // Low band (< 4 kHz) and high band (4-7 kHz) tones.
        for (f, min_snr) in [
            (440.0, 25.0),
            (1000.0, 25.0),
            (3000.0, 20.0),
            (5500.0, 12.0),
        ] {
            let input = tone::sine(f, 16_000, 16_000, 8000);
            let (mut enc, mut dec) = (Encoder::default(), Decoder::default());
            let mut out = Vec::new();
            for frame in input.chunks(320) {
                let mut bytes = Vec::new();
                enc.encode(frame, &mut bytes);
                assert_eq!(bytes.len(), 160);
                dec.decode(&bytes, &mut out);
            }
            assert_eq!(out.len(), input.len());
            // Skip the ADPCM start-up (step sizes adapting).
            let (lag, snr) = best_snr(&input[1600..], &out[1600..]);
            assert!(snr > min_snr, "{f} Hz: SNR {snr:.1} dB at lag {lag}");
            // The tone and nothing else: its power dwarfs that at the
            // frequencies a band-splitting error would move it to.
            let tail = &out[1600..];
            let p = tone::goertzel_power(tail, 16_000, f);
            for other in [f / 2.0, 8000.0 - f, (f + 1000.0) % 8000.0] {
                let q = tone::goertzel_power(tail, 16_000, other);
                assert!(p > 1000.0 * q, "{f} Hz: power {p} vs {q} at {other} Hz");
            }
        }
    }

    #[test]
    fn any_bytes_decode_without_panic() {
        let mut dec = Decoder::default();
        let mut out = Vec::new();
        let noise: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        dec.decode(&noise, &mut out);
        assert_eq!(out.len(), 8000);
        dec.decode(&[], &mut out);
        assert_eq!(out.len(), 8000);
    }
}
