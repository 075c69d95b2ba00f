//! G.729 Annex A (CS-ACELP, 8 kbit/s) through the `rvoip-codec-core` crate:
//! 10 ms frames of 8 kHz PCM (80 samples) ⇄ 10 bytes.
//!
//! We send Annex A speech frames only and answer `annexb=no` (RFC 4856):
//! no VAD, so no SID frames go out. A peer may still send Annex B SID frames
//! (2 bytes, after any speech frames in a packet, RFC 3551 §4.5.6); the
//! decoder runs Annex B comfort-noise generation for them, so they are heard
//! as low noise rather than dropped or misread.
//!
//! ```
//! use sipwire::audio::g729;
//! let mut enc = g729::Encoder::new().unwrap();
//! let mut bytes = Vec::new();
//! enc.encode(&[0i16; 160], &mut bytes).unwrap();
//! assert_eq!(bytes.len(), 20);
//! let mut pcm = Vec::new();
//! g729::Decoder::new().unwrap().decode(&bytes, &mut pcm).unwrap();
//! assert_eq!(pcm.len(), 160);
//! ```

use codec_core::codecs::g729::G729Codec;
use codec_core::types::{AudioCodecExt, CodecConfig};

use super::codec::CodecError;

/// PCM samples in one G.729 frame (10 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = 80;
/// Bytes of one speech frame.
pub const FRAME_BYTES: usize = 10;
/// Bytes of one Annex B SID (silence descriptor) frame.
pub const SID_BYTES: usize = 2;

fn codec(config: CodecConfig) -> Result<Box<G729Codec>, CodecError> {
    G729Codec::new(config)
        .map(Box::new)
        .map_err(|e| CodecError::Other(format!("g729: {e}")))
}

/// Stateful G.729A encoder (no VAD/DTX).
pub struct Encoder(Box<G729Codec>);

impl Encoder {
    /// Creates an Annex A encoder.
    pub fn new() -> Result<Self, CodecError> {
        codec(CodecConfig::g729a()).map(Self)
    }

    /// Encodes whole 10 ms frames of 8 kHz PCM, appending 10 bytes per
    /// frame to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if !pcm.len().is_multiple_of(FRAME_SAMPLES) {
            return Err(CodecError::FrameSize {
                expected: pcm.len().div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES,
                got: pcm.len(),
            });
        }
        for frame in pcm.chunks_exact(FRAME_SAMPLES) {
            let mut bits = [0u8; FRAME_BYTES];
            let n = self
                .0
                .encode_to_buffer(frame, &mut bits)
                .map_err(|e| CodecError::Other(format!("g729: {e}")))?;
            out.extend_from_slice(&bits[..n]);
        }
        Ok(())
    }
}

/// Stateful G.729A decoder that also understands Annex B SID frames.
pub struct Decoder(Box<G729Codec>);

impl Decoder {
    /// Creates a decoder (Annex A speech, Annex B comfort noise).
    pub fn new() -> Result<Self, CodecError> {
        codec(CodecConfig::g729ba()).map(Self)
    }

    /// Decodes one RTP payload: zero or more 10-byte speech frames, then at
    /// most one 2-byte SID frame. Appends 80 samples per frame to `out`.
    /// Any other length is [`CodecError::Payload`] and appends nothing.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let sid = match payload.len() % FRAME_BYTES {
            0 => 0,
            SID_BYTES => SID_BYTES,
            _ => {
                return Err(CodecError::Payload {
                    codec: "G729",
                    len: payload.len(),
                })
            }
        };
        let (speech, sid) = payload.split_at(payload.len() - sid);
        let frames = speech.chunks_exact(FRAME_BYTES);
        for frame in frames.chain((!sid.is_empty()).then_some(sid)) {
            self.frame(frame, out);
        }
        Ok(())
    }

    /// Runs the codec's frame-erasure concealment for `samples` (rounded up
    /// to whole 10 ms frames).
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        for _ in 0..samples.div_ceil(FRAME_SAMPLES) {
            self.frame(&[], out);
        }
    }

    fn frame(&mut self, bits: &[u8], out: &mut Vec<i16>) {
        let mut pcm = [0i16; FRAME_SAMPLES];
        // Lengths are 0, 2 or 10 here, the only ones the codec refuses
        // otherwise; a refusal still yields a frame of silence, keeping time.
        let _ = self.0.decode_to_buffer(bits, &mut pcm);
        out.extend_from_slice(&pcm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone;

    #[test]
    fn tone_round_trip_keeps_frequency_and_level() {
        for f in [300.0, 1000.0, 2000.0] {
            let input = tone::sine(f, 8000, 8000, 8000);
            let (mut enc, mut dec) = (Encoder::new().unwrap(), Decoder::new().unwrap());
            let mut out = Vec::new();
            for frame in input.chunks(160) {
                let mut bytes = Vec::new();
                enc.encode(frame, &mut bytes).unwrap();
                assert_eq!(bytes.len(), 20);
                dec.decode(&bytes, &mut out).unwrap();
            }
            assert_eq!(out.len(), input.len());
            let tail = &out[2000..];
            let measured = tone::dominant_frequency(tail, 8000).unwrap();
            assert!((measured - f).abs() < 10.0, "{f} Hz decoded as {measured}");
            let level = tone::rms(tail);
            assert!(
                (level - 5657.0).abs() < 5657.0 * 0.35,
                "{f} Hz: rms {level}"
            );
        }
    }

    #[test]
    fn sid_frames_and_loss_keep_time_and_stay_quiet() {
        let mut enc = Encoder::new().unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut out = Vec::new();
        let speech = tone::sine(1000.0, 8000, 800, 8000);
        for frame in speech.chunks(160) {
            let mut bytes = Vec::new();
            enc.encode(frame, &mut bytes).unwrap();
            dec.decode(&bytes, &mut out).unwrap();
        }
        // A speech frame followed by a SID frame (12 bytes: RFC 3551 §4.5.6).
        let mut bytes = Vec::new();
        enc.encode(&speech[..80], &mut bytes).unwrap();
        bytes.extend_from_slice(&[0x00, 0x40]);
        let before = out.len();
        dec.decode(&bytes, &mut out).unwrap();
        assert_eq!(out.len() - before, 160);
        // SID alone: 80 samples of comfort noise, far below the tone.
        let before = out.len();
        for _ in 0..10 {
            dec.decode(&[0x00, 0x40], &mut out).unwrap();
        }
        assert_eq!(out.len() - before, 800);
        assert!(tone::rms(&out[before + 400..]) < 1000.0);
        let before = out.len();
        dec.conceal(160, &mut out);
        assert_eq!(out.len() - before, 160);
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let mut dec = Decoder::new().unwrap();
        let mut out = vec![7];
        for len in [1usize, 3, 9, 11, 15] {
            assert!(matches!(
                dec.decode(&vec![0xAB; len], &mut out),
                Err(CodecError::Payload { len: l, .. }) if l == len
            ));
        }
        assert_eq!(out, vec![7]);
        // Random speech bits decode (to something) without panicking.
        let noise: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        dec.decode(&noise, &mut out).unwrap();
        assert_eq!(out.len(), 1 + 20 * 80);
        assert!(Encoder::new()
            .unwrap()
            .encode(&[0; 100], &mut Vec::new())
            .is_err());
    }
}
