//! Audio codecs negotiated by sipwire: Opus (48 kHz mono), G.722 (16 kHz),
//! PCMU, PCMA and G.729 Annex A (8 kHz).
//!
//! A thin, uniform frame-in/frame-out wrapper so the media engine can treat
//! all codecs alike: [`Encoder`] turns one 20 ms mono frame at the codec's
//! [sample rate](CodecKind::sample_rate) into an RTP payload, and [`Decoder`]
//! turns a payload (or a lost packet, for concealment) back into PCM at that
//! rate. The sample rate is not always the RTP clock: G.722 runs at 16 kHz
//! on an 8000 Hz RTP clock (RFC 3551 §4.5.2), so timestamps use
//! [`CodecKind::clock_rate`] and [`CodecKind::rtp_frame_ticks`].

use super::{g711, g722, g729};

/// Maximum Opus payload we produce (well under a typical MTU).
const OPUS_MAX_PACKET: usize = 1500;
/// Longest Opus packet duration (120 ms) at 48 kHz, for decode buffers.
const OPUS_MAX_SAMPLES: usize = 5760;
/// Default Opus encoder complexity (0..=10). 10 is libopus's own default and,
/// measured here (`cargo bench --bench codec`, `npm run bench`), no dearer
/// than 0 and well below 5 for 20 ms mono VoIP frames: 8.7 vs 14.5 ms CPU per
/// call-second at 100 calls.
pub const DEFAULT_OPUS_COMPLEXITY: i32 = 10;

/// Errors from [`Encoder`] and [`Decoder`].
#[derive(thiserror::Error, Debug)]
pub enum CodecError {
    /// Error reported by libopus.
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    /// A payload no codec frame layout fits (a G.729 payload must be whole
    /// 10-byte frames, optionally ending in one 2-byte SID frame).
    #[error("malformed {codec} payload of {len} bytes")]
    Payload {
        /// The codec's SDP name.
        codec: &'static str,
        /// Payload length in bytes.
        len: usize,
    },
    /// Error reported by a codec implementation crate.
    #[error("{0}")]
    Other(String),
    /// The PCM frame handed to the encoder had the wrong length.
    #[error("expected a frame of {expected} samples, got {got}")]
    FrameSize {
        /// Samples per 20 ms frame for the codec.
        expected: usize,
        /// Samples actually supplied.
        got: usize,
    },
    /// A parameter was out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
}

/// The audio codecs supported by sipwire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// Opus, 48 kHz RTP clock, mono.
    Opus,
    /// G.711 µ-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
    /// G.722 (wideband ADPCM, 64 kbit/s), payload type 9: 16 kHz audio on
    /// an 8000 Hz RTP clock.
    G722,
    /// G.729 Annex A (CS-ACELP, 8 kbit/s), payload type 18. Annex B
    /// (VAD/DTX) is not sent; received SID frames decode to comfort noise.
    G729,
}

impl CodecKind {
    /// Every supported codec, in the default offer order: Opus, then
    /// wideband G.722, then G.711, and G.729 last. G.729 costs the most CPU
    /// (about 10x G.711 per frame, see `cargo bench --bench codec`) and
    /// sounds the worst, so it is offered only after everything a peer
    /// would rather have; it is in the default list at all so that a trunk
    /// offering G.729 alone gets an answer instead of a 488.
    pub const ALL: [CodecKind; 5] = [
        CodecKind::Opus,
        CodecKind::G722,
        CodecKind::Pcmu,
        CodecKind::Pcma,
        CodecKind::G729,
    ];

    /// RTP clock rate in Hz, as in `a=rtpmap` (48000 for Opus, 8000 for
    /// the others, G.722 included: RFC 3551 §4.5.2).
    pub fn clock_rate(self) -> u32 {
        match self {
            CodecKind::Opus => 48_000,
            CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722 | CodecKind::G729 => 8_000,
        }
    }

    /// Rate of the PCM the codec consumes and produces, in Hz (16000 for
    /// G.722; otherwise the [clock rate](Self::clock_rate)).
    pub fn sample_rate(self) -> u32 {
        match self {
            CodecKind::G722 => 16_000,
            k => k.clock_rate(),
        }
    }

    /// PCM samples in one 20 ms mono frame at [`sample_rate`](Self::sample_rate).
    pub fn samples_per_frame(self) -> usize {
        (self.sample_rate() / 50) as usize
    }

    /// RTP timestamp increment of one 20 ms frame (160 for G.722's 320
    /// samples).
    pub fn rtp_frame_ticks(self) -> u32 {
        self.clock_rate() / 50
    }

    /// Static RTP payload type, if the codec has one (RFC 3551).
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            CodecKind::Opus => None,
            CodecKind::Pcmu => Some(0),
            CodecKind::Pcma => Some(8),
            CodecKind::G722 => Some(9),
            CodecKind::G729 => Some(18),
        }
    }

    /// What we offer for this codec: payload type (the static one, 111 for
    /// Opus), `a=rtpmap` channel count (0 = omitted) and `a=fmtp` parameters.
    /// G.729 declares `annexb=no` (RFC 4856): we send no VAD/SID frames.
    pub fn offer_format(self) -> (u8, u16, &'static str) {
        match self {
            CodecKind::Opus => (111, 2, "minptime=10;useinbandfec=1"),
            CodecKind::G729 => (18, 0, "annexb=no"),
            k => (k.static_payload_type().unwrap_or(0), 0, ""),
        }
    }

    /// Looks a codec up by its SDP `rtpmap` encoding name (case-insensitive)
    /// and clock rate.
    ///
    /// ```
    /// use sipwire::audio::codec::CodecKind;
    /// assert_eq!(CodecKind::from_name("g722", 8000), Some(CodecKind::G722));
    /// assert_eq!(CodecKind::from_name("G722", 16000), None);
    /// ```
    pub fn from_name(name: &str, clock_rate: u32) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.mime_name().eq_ignore_ascii_case(name) && k.clock_rate() == clock_rate)
    }

    /// Encoding name as used in SDP `a=rtpmap` ("opus", "PCMU", "PCMA",
    /// "G722", "G729").
    pub fn mime_name(self) -> &'static str {
        match self {
            CodecKind::Opus => "opus",
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::G722 => "G722",
            CodecKind::G729 => "G729",
        }
    }

    /// The name used in the `codecs` option ("opus", "g722", "pcmu",
    /// "pcma", "g729").
    pub fn config_name(self) -> &'static str {
        match self {
            CodecKind::Opus => "opus",
            CodecKind::Pcmu => "pcmu",
            CodecKind::Pcma => "pcma",
            CodecKind::G722 => "g722",
            CodecKind::G729 => "g729",
        }
    }

    /// Looks a codec up by its [`config_name`](Self::config_name), ignoring case.
    pub fn from_config_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.config_name().eq_ignore_ascii_case(name))
    }
}

enum EncoderInner {
    Opus(opus::Encoder),
    Pcmu,
    Pcma,
    G722(Box<g722::Encoder>),
    G729(Box<g729::Encoder>),
}

/// Encodes 20 ms mono PCM frames into RTP payloads.
pub struct Encoder {
    kind: CodecKind,
    inner: EncoderInner,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("kind", &self.kind).finish()
    }
}

impl Encoder {
    /// Creates an encoder; Opus uses complexity [`DEFAULT_OPUS_COMPLEXITY`].
    pub fn new(kind: CodecKind) -> Result<Self, CodecError> {
        Self::with_complexity(kind, DEFAULT_OPUS_COMPLEXITY)
    }

    /// Creates an encoder with the given Opus complexity (0..=10, ignored
    /// for G.711). Opus is configured as mono 48 kHz, VoIP application,
    /// in-band FEC off.
    pub fn with_complexity(kind: CodecKind, complexity: i32) -> Result<Self, CodecError> {
        let inner = match kind {
            CodecKind::Opus => {
                if !(0..=10).contains(&complexity) {
                    return Err(CodecError::InvalidParameter(
                        "opus complexity must be 0..=10",
                    ));
                }
                let mut enc =
                    opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)?;
                enc.set_complexity(complexity)?;
                enc.set_inband_fec(false)?;
                EncoderInner::Opus(enc)
            }
            CodecKind::Pcmu => EncoderInner::Pcmu,
            CodecKind::Pcma => EncoderInner::Pcma,
            CodecKind::G722 => EncoderInner::G722(Box::default()),
            CodecKind::G729 => EncoderInner::G729(Box::new(g729::Encoder::new()?)),
        };
        Ok(Self { kind, inner })
    }

    /// The codec this encoder produces.
    pub fn kind(&self) -> CodecKind {
        self.kind
    }

    /// Encodes exactly one 20 ms mono frame (`kind.samples_per_frame()`
    /// samples at the codec clock rate), appending the payload to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let expected = self.kind.samples_per_frame();
        if pcm.len() != expected {
            return Err(CodecError::FrameSize {
                expected,
                got: pcm.len(),
            });
        }
        match &mut self.inner {
            EncoderInner::Opus(enc) => {
                let start = out.len();
                out.resize(start + OPUS_MAX_PACKET, 0);
                match enc.encode(pcm, &mut out[start..]) {
                    Ok(n) => out.truncate(start + n),
                    Err(e) => {
                        out.truncate(start);
                        return Err(e.into());
                    }
                }
            }
            EncoderInner::Pcmu => g711::encode_ulaw(pcm, out),
            EncoderInner::Pcma => g711::encode_alaw(pcm, out),
            EncoderInner::G722(enc) => enc.encode(pcm, out),
            EncoderInner::G729(enc) => enc.encode(pcm, out)?,
        }
        Ok(())
    }
}

enum DecoderInner {
    Opus(opus::Decoder),
    Pcmu,
    Pcma,
    G722(Box<g722::Decoder>),
    G729(Box<g729::Decoder>),
}

/// Decodes RTP payloads into mono PCM at the codec clock rate, with packet
/// loss concealment.
pub struct Decoder {
    kind: CodecKind,
    inner: DecoderInner,
    /// Last decoded G.711 frame, for fade-out concealment.
    last_frame: Vec<i16>,
    /// Consecutive concealed frames.
    lost_run: u32,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("kind", &self.kind)
            .field("lost_run", &self.lost_run)
            .finish()
    }
}

impl Decoder {
    /// Creates a decoder (Opus: mono, 48 kHz output).
    pub fn new(kind: CodecKind) -> Result<Self, CodecError> {
        let inner = match kind {
            CodecKind::Opus => {
                DecoderInner::Opus(opus::Decoder::new(48_000, opus::Channels::Mono)?)
            }
            CodecKind::Pcmu => DecoderInner::Pcmu,
            CodecKind::Pcma => DecoderInner::Pcma,
            CodecKind::G722 => DecoderInner::G722(Box::default()),
            CodecKind::G729 => DecoderInner::G729(Box::new(g729::Decoder::new()?)),
        };
        Ok(Self {
            kind,
            inner,
            last_frame: Vec::new(),
            lost_run: 0,
        })
    }

    /// The codec this decoder consumes.
    pub fn kind(&self) -> CodecKind {
        self.kind
    }

    /// Decodes one payload, appending mono PCM at the codec clock rate to
    /// `out`, and returns the number of samples appended.
    ///
    /// `None` (or an empty payload) means the packet was lost: Opus and
    /// G.729 run their own packet-loss concealment for 20 ms; G.711 and
    /// G.722 repeat the last frame with a fade to silence over two frames,
    /// then emit silence (20 ms each).
    pub fn decode(
        &mut self,
        payload: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let payload = payload.filter(|p| !p.is_empty());
        let start = out.len();
        match (&mut self.inner, payload) {
            (DecoderInner::Opus(dec), p) => {
                let len = if p.is_some() {
                    OPUS_MAX_SAMPLES
                } else {
                    self.kind.samples_per_frame()
                };
                out.resize(start + len, 0);
                match dec.decode(p.unwrap_or(&[]), &mut out[start..], false) {
                    Ok(n) => out.truncate(start + n.min(len)),
                    Err(e) => {
                        out.truncate(start);
                        return Err(e.into());
                    }
                }
            }
            (DecoderInner::Pcmu, Some(p)) => g711::decode_ulaw(p, out),
            (DecoderInner::Pcma, Some(p)) => g711::decode_alaw(p, out),
            (DecoderInner::G722(dec), Some(p)) => dec.decode(p, out),
            (DecoderInner::G729(dec), Some(p)) => dec.decode(p, out)?,
            (DecoderInner::G729(dec), None) => dec.conceal(self.kind.samples_per_frame(), out),
            (DecoderInner::Pcmu | DecoderInner::Pcma | DecoderInner::G722(_), None) => {
                self.conceal_repeat(out);
            }
        }
        if payload.is_some() {
            self.lost_run = 0;
            if matches!(
                self.kind,
                CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722
            ) {
                self.last_frame.clear();
                self.last_frame.extend_from_slice(&out[start..]);
            }
        } else {
            self.lost_run = self.lost_run.saturating_add(1);
        }
        Ok(out.len() - start)
    }

    fn conceal_repeat(&mut self, out: &mut Vec<i16>) {
        let n = self.kind.samples_per_frame();
        // Gain ramps 1 -> 0.5 on the first lost frame, 0.5 -> 0 on the second.
        let g0 = (1.0 - 0.5 * self.lost_run as f32).max(0.0);
        let g1 = (1.0 - 0.5 * (self.lost_run as f32 + 1.0)).max(0.0);
        if self.last_frame.is_empty() || g0 <= 0.0 {
            out.extend(std::iter::repeat_n(0, n));
            return;
        }
        let last = &self.last_frame;
        out.extend((0..n).map(|i| {
            let g = g0 + (g1 - g0) * (i as f32 / n as f32);
            (f32::from(last[i % last.len()]) * g) as i16
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone;

    #[test]
    fn kind_properties() {
        assert_eq!(CodecKind::Opus.clock_rate(), 48000);
        assert_eq!(CodecKind::Pcmu.samples_per_frame(), 160);
        assert_eq!(CodecKind::Opus.samples_per_frame(), 960);
        assert_eq!(CodecKind::Opus.static_payload_type(), None);
        assert_eq!(CodecKind::Pcma.static_payload_type(), Some(8));
        assert_eq!(CodecKind::from_name("OPUS", 48000), Some(CodecKind::Opus));
        assert_eq!(CodecKind::from_name("pcmu", 8000), Some(CodecKind::Pcmu));
        assert_eq!(CodecKind::from_name("PCMA", 8000), Some(CodecKind::Pcma));
        assert_eq!(CodecKind::from_name("PCMA", 16000), None);
        assert_eq!(CodecKind::from_name("G722", 8000), Some(CodecKind::G722));
        assert_eq!(CodecKind::from_name("G722", 16000), None);
        assert_eq!(CodecKind::G722.sample_rate(), 16000);
        assert_eq!(CodecKind::G722.samples_per_frame(), 320);
        assert_eq!(CodecKind::G722.rtp_frame_ticks(), 160);
        assert_eq!(CodecKind::G729.static_payload_type(), Some(18));
        assert_eq!(CodecKind::Pcmu.mime_name(), "PCMU");
    }

    fn round_trip(kind: CodecKind) -> Vec<i16> {
        let rate = kind.clock_rate();
        let n = kind.samples_per_frame();
        let input = tone::sine(1000.0, rate, n * 50, 10000);
        let mut enc = Encoder::new(kind).unwrap();
        let mut dec = Decoder::new(kind).unwrap();
        let mut out = Vec::new();
        for frame in input.chunks(n) {
            let mut payload = Vec::new();
            enc.encode(frame, &mut payload).unwrap();
            assert!(!payload.is_empty());
            if kind != CodecKind::Opus {
                assert_eq!(payload.len(), n);
            }
            let got = dec.decode(Some(&payload), &mut out).unwrap();
            assert_eq!(got, n);
        }
        assert_eq!(out.len(), input.len());
        out
    }

    #[test]
    fn sine_round_trip_all_codecs() {
        for kind in [CodecKind::Opus, CodecKind::Pcmu, CodecKind::Pcma] {
            let out = round_trip(kind);
            // Skip codec start-up (Opus look-ahead and convergence).
            let tail = &out[out.len() / 2..];
            let level = tone::rms(tail);
            assert!(
                (level - 7071.0).abs() < 7071.0 * 0.15,
                "{kind:?} rms {level}"
            );
            let f = tone::dominant_frequency(tail, kind.clock_rate()).unwrap();
            assert!((f - 1000.0).abs() < 5.0, "{kind:?} f {f}");
        }
    }

    #[test]
    fn plc_returns_20ms() {
        for kind in [CodecKind::Opus, CodecKind::Pcmu, CodecKind::Pcma] {
            let n = kind.samples_per_frame();
            let mut dec = Decoder::new(kind).unwrap();
            let mut out = Vec::new();
            // Loss before anything was received.
            assert_eq!(dec.decode(None, &mut out).unwrap(), n);
            let mut enc = Encoder::new(kind).unwrap();
            let frame = tone::sine(1000.0, kind.clock_rate(), n, 10000);
            for _ in 0..5 {
                let mut p = Vec::new();
                enc.encode(&frame, &mut p).unwrap();
                dec.decode(Some(&p), &mut out).unwrap();
            }
            for _ in 0..4 {
                assert_eq!(dec.decode(None, &mut out).unwrap(), n);
            }
            assert_eq!(dec.decode(Some(&[]), &mut out).unwrap(), n);
            assert_eq!(out.len(), 11 * n);
        }
    }

    #[test]
    fn g711_plc_fades_to_silence() {
        let mut dec = Decoder::new(CodecKind::Pcmu).unwrap();
        let mut enc = Encoder::new(CodecKind::Pcmu).unwrap();
        let frame = tone::sine(1000.0, 8000, 160, 10000);
        let mut p = Vec::new();
        enc.encode(&frame, &mut p).unwrap();
        let mut out = Vec::new();
        dec.decode(Some(&p), &mut out).unwrap();
        let mut l1 = Vec::new();
        dec.decode(None, &mut l1).unwrap();
        let mut l2 = Vec::new();
        dec.decode(None, &mut l2).unwrap();
        let mut l3 = Vec::new();
        dec.decode(None, &mut l3).unwrap();
        assert!(tone::rms(&l1) > tone::rms(&l2));
        assert!(tone::rms(&l2) > 0.0);
        assert_eq!(tone::rms(&l3), 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut enc = Encoder::new(CodecKind::Opus).unwrap();
        assert!(matches!(
            enc.encode(&[0; 100], &mut Vec::new()),
            Err(CodecError::FrameSize {
                expected: 960,
                got: 100
            })
        ));
        assert!(Encoder::with_complexity(CodecKind::Opus, 11).is_err());
        let mut dec = Decoder::new(CodecKind::Opus).unwrap();
        let mut out = vec![1, 2];
        // Garbage payloads must not panic; they either error or decode.
        let _ = dec.decode(Some(&[0xFF, 0xFF, 0xFF]), &mut out);
        assert!(out.len() >= 2);
        assert_eq!(&out[..2], &[1, 2]);
    }
}
