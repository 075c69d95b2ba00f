//! Negotiation, pure: descriptions and local configuration in, one
//! negotiated value out. Nothing here touches rtc, the media pipeline or a
//! transport, so every rule is a plain function with its own tests.
//!
//! - [`engine_codecs`]: which codecs (with payload types and fmtp) the
//!   transport's engine is built with: ours for an offer, the offer's own for
//!   an answer.
//! - [`negotiate`]: an offer and its answer -> [`Negotiated`] (what we send,
//!   what we may receive, the direction, DTMF, header extension ids).
//! - [`answer_direction`], [`intersect`]: RFC 3264 direction arithmetic.
//!
//! ```
//! use sipwire::peer::answer_direction;
//! use sipwire::sdp::Direction;
//! // We want to send and receive; they offer sendonly (hold): we receive.
//! assert_eq!(answer_direction(Direction::SendRecv, Direction::SendOnly), Direction::RecvOnly);
//! ```

use crate::audio::codec::CodecKind;
use crate::delay::ABS_SEND_TIME_URI;
use crate::error::{Error, Result};
use crate::intake;
use crate::media::{RecvCodecs, SendCodec};
use crate::sdp::{self, Direction, RemoteSdp};
use crate::transport::EngineCodec;

/// The codecs to build the engine with: ours (offerer) or the offer's, in
/// its order and with its payload types (answerer). An answer carries a
/// single telephone-event (the one at the first common codec's clock, else
/// the first offered): two telephone-event rates in one engine yield a
/// duplicate payload type.
pub fn engine_codecs(ours: &[CodecKind], offer: Option<&RemoteSdp>) -> Result<Vec<EngineCodec>> {
    let mut out = Vec::new();
    let mut primary: Option<CodecKind> = None;
    match offer {
        Some(offer) => {
            for c in &offer.codecs {
                let Some(kind) = CodecKind::from_name(&c.name, c.clock_rate) else {
                    continue;
                };
                if !ours.contains(&kind) {
                    continue;
                }
                primary.get_or_insert(kind);
                out.push(EngineCodec {
                    kind: Some(kind),
                    clock_rate: c.clock_rate,
                    channels: c.channels,
                    fmtp: c.fmtp.clone().unwrap_or_default(),
                    pt: c.pt,
                });
            }
            let Some(primary) = primary else {
                return Err(sdp::SdpError::NoCommonCodec(format!(
                    "no common audio codec: offer has {}; this connection allows {}",
                    offer
                        .codecs
                        .iter()
                        .map(|c| format!("{}/{}", c.name, c.clock_rate))
                        .collect::<Vec<_>>()
                        .join(", "),
                    ours.iter()
                        .map(|k| k.mime_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into());
            };
            if let Some(te) = intake::chosen_telephone_event(offer, primary) {
                out.push(EngineCodec {
                    kind: None,
                    clock_rate: te.clock_rate,
                    channels: 0,
                    fmtp: te.fmtp.clone().unwrap_or_else(|| "0-15".into()),
                    pt: te.pt,
                });
            }
        }
        None => {
            for kind in ours {
                primary.get_or_insert(*kind);
                out.push(match kind {
                    CodecKind::Opus => EngineCodec {
                        kind: Some(CodecKind::Opus),
                        clock_rate: 48000,
                        channels: 2,
                        fmtp: "minptime=10;useinbandfec=1".into(),
                        pt: 111,
                    },
                    CodecKind::Pcmu => EngineCodec {
                        kind: Some(CodecKind::Pcmu),
                        clock_rate: 8000,
                        channels: 0,
                        fmtp: String::new(),
                        pt: 0,
                    },
                    CodecKind::Pcma => EngineCodec {
                        kind: Some(CodecKind::Pcma),
                        clock_rate: 8000,
                        channels: 0,
                        fmtp: String::new(),
                        pt: 8,
                    },
                });
            }
            // Offer both rates: 8000 for G.711 peers, 48000 for Opus peers.
            let te = |clock_rate, pt| EngineCodec {
                kind: None,
                clock_rate,
                channels: 0,
                fmtp: "0-15".into(),
                pt,
            };
            out.push(te(8000, 101));
            if ours.contains(&CodecKind::Opus) {
                out.push(te(48000, 110));
            }
        }
    }
    if primary.is_none() {
        return Err(Error::InvalidArgument("no codecs configured".into()));
    }
    Ok(out)
}

/// What an offer/answer exchange settled for the media pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Negotiated {
    /// What we send: the answer's first codec we support, with its DTMF.
    pub send: SendCodec,
    /// Every payload type we may receive.
    pub recv: RecvCodecs,
    /// Our media direction.
    pub direction: Direction,
    /// The abs-send-time header extension id, if negotiated.
    pub abs_send_time_id: Option<u8>,
}

/// The codecs of `answer` decide what we send (its first codec in `ours`)
/// and what we may receive; payload types are the answer's. Formats only
/// the offer listed are received too (RFC 3264 §5.1: the offerer must be
/// ready for all it offered; Chromium answers PCMU-only after
/// setCodecPreferences yet sends Opus on the PT our offer gave it).
pub fn negotiate(
    answer: &RemoteSdp,
    offer: &RemoteSdp,
    direction: Direction,
    ours: &[CodecKind],
) -> Result<Negotiated> {
    let mut recv = RecvCodecs::default();
    let mut send_kind = None;
    for c in &answer.codecs {
        if c.name.eq_ignore_ascii_case("telephone-event") {
            recv.telephone_event.push((c.pt, c.clock_rate));
            continue;
        }
        if let Some(kind) = CodecKind::from_name(&c.name, c.clock_rate) {
            if ours.contains(&kind) {
                recv.audio.push((c.pt, kind));
                if send_kind.is_none() {
                    send_kind = Some((kind, c.pt));
                }
            }
        }
    }
    let (kind, pt) = send_kind.ok_or_else(|| {
        sdp::SdpError::NoCommonCodec("the answer has no codec this connection supports".into())
    })?;
    let te = recv
        .telephone_event
        .iter()
        .copied()
        .min_by_key(|(_, rate)| (*rate != kind.clock_rate()) as u8);
    for c in &offer.codecs {
        if recv.audio.iter().any(|(p, _)| *p == c.pt)
            || recv.telephone_event.iter().any(|(p, _)| *p == c.pt)
        {
            continue;
        }
        if c.name.eq_ignore_ascii_case("telephone-event") {
            recv.telephone_event.push((c.pt, c.clock_rate));
        } else if let Some(kind) = CodecKind::from_name(&c.name, c.clock_rate) {
            if ours.contains(&kind) {
                recv.audio.push((c.pt, kind));
            }
        }
    }
    // The answer's id is the negotiated one, for both directions (RFC 8285).
    let abs_send_time_id =
        sdp::extmap_id(&answer.sdp, ABS_SEND_TIME_URI).and_then(|id| u8::try_from(id).ok());
    Ok(Negotiated {
        send: SendCodec {
            kind,
            pt,
            telephone_event: te,
        },
        recv,
        direction,
        abs_send_time_id,
    })
}

/// The direction of the first audio section of an SDP, if it says one.
pub fn parse_direction(sdp_text: &str) -> Option<Direction> {
    let mut in_audio = false;
    for line in sdp_text.lines() {
        let line = line.trim();
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio");
        } else if in_audio {
            if let Some(d) = line.strip_prefix("a=").and_then(Direction::parse) {
                return Some(d);
            }
        }
    }
    None
}

/// Check a remote offer the way `setRemoteDescription` would, without a
/// connection: SIP uses it to answer 488 before accepting a call.
///
/// ```
/// use sipwire::{audio::codec::CodecKind, peer::validate_offer};
/// let err = validate_offer("not sdp", &[CodecKind::Pcmu]).unwrap_err();
/// assert_eq!(err.code(), "ERR_SDP_PARSE");
/// ```
pub fn validate_offer(sdp_text: &str, codecs: &[CodecKind]) -> Result<RemoteSdp> {
    // The very path setRemoteDescription takes (crate::intake).
    intake::prepare_offer(sdp_text, codecs).map(|p| p.info)
}

/// RFC 3264 §6.1: the answer's direction given what we want and what was offered.
pub fn answer_direction(wanted: Direction, offered: Direction) -> Direction {
    intersect(wanted, offered.reverse())
}

/// What both directions allow.
pub fn intersect(a: Direction, b: Direction) -> Direction {
    match (a.has_send() && b.has_send(), a.has_recv() && b.has_recv()) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::SdpKind;

    fn offer(codecs: &str, extra: &str) -> RemoteSdp {
        let pts: Vec<&str> = codecs
            .split(',')
            .map(|c| c.split(':').next().unwrap())
            .collect();
        let mut s = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
             a=fingerprint:sha-256 {}\r\na=setup:actpass\r\n\
             m=audio 4000 UDP/TLS/RTP/SAVPF {}\r\n",
            vec!["AB"; 32].join(":"),
            pts.join(" ")
        );
        for c in codecs.split(',') {
            let (pt, rtpmap) = c.split_once(':').unwrap();
            s += &format!("a=rtpmap:{pt} {rtpmap}\r\n");
        }
        s += extra;
        sdp::normalize_remote(&s, SdpKind::Offer).unwrap()
    }

    const ALL: [CodecKind; 3] = [CodecKind::Opus, CodecKind::Pcmu, CodecKind::Pcma];

    #[test]
    fn the_answers_first_supported_codec_is_sent_with_dtmf_at_its_rate() {
        let o = offer(
            "111:opus/48000/2,0:PCMU/8000,101:telephone-event/8000,110:telephone-event/48000",
            "",
        );
        let a = offer("0:PCMU/8000,101:telephone-event/8000", "");
        let n = negotiate(&a, &o, Direction::SendRecv, &ALL).unwrap();
        assert_eq!(n.send.kind, CodecKind::Pcmu);
        assert_eq!(n.send.pt, 0);
        assert_eq!(n.send.telephone_event, Some((101, 8000)));
        // Opus and the 48 kHz telephone-event, offered only, are received too.
        assert!(n.recv.audio.contains(&(111, CodecKind::Opus)));
        assert!(n.recv.telephone_event.contains(&(110, 48000)));
        assert_eq!(n.direction, Direction::SendRecv);
        assert_eq!(n.abs_send_time_id, None);
    }

    #[test]
    fn an_answer_with_nothing_we_support_is_refused() {
        let o = offer("0:PCMU/8000", "");
        let a = offer("0:PCMU/8000", "");
        let e = negotiate(&a, &o, Direction::SendRecv, &[CodecKind::Opus]).unwrap_err();
        assert_eq!(e.code(), "ERR_NO_COMMON_CODEC");
    }

    #[test]
    fn the_answers_extmap_id_is_negotiated() {
        let ext = format!("a=extmap:3 {ABS_SEND_TIME_URI}\r\n");
        let a = offer("0:PCMU/8000", &ext);
        let n = negotiate(&a, &a, Direction::RecvOnly, &ALL).unwrap();
        assert_eq!(n.abs_send_time_id, Some(3));
    }

    #[test]
    fn an_answerers_engine_keeps_the_offers_payload_types_and_one_telephone_event() {
        let o = offer(
            "96:opus/48000/2,8:PCMA/8000,100:telephone-event/48000,101:telephone-event/8000",
            "",
        );
        let e = engine_codecs(&[CodecKind::Pcma, CodecKind::Opus], Some(&o)).unwrap();
        let pts: Vec<(Option<CodecKind>, u8)> = e.iter().map(|c| (c.kind, c.pt)).collect();
        // The first common codec is Opus (offer order), so DTMF at 48 kHz.
        assert_eq!(
            pts,
            vec![
                (Some(CodecKind::Opus), 96),
                (Some(CodecKind::Pcma), 8),
                (None, 100)
            ]
        );
        let e = engine_codecs(&[CodecKind::Pcmu], Some(&o)).unwrap_err();
        assert_eq!(e.code(), "ERR_NO_COMMON_CODEC");
    }

    #[test]
    fn an_offerers_engine_lists_our_codecs_and_both_dtmf_rates() {
        let e = engine_codecs(&ALL, None).unwrap();
        let pts: Vec<u8> = e.iter().map(|c| c.pt).collect();
        assert_eq!(pts, vec![111, 0, 8, 101, 110]);
        let e = engine_codecs(&[CodecKind::Pcmu], None).unwrap();
        assert_eq!(e.iter().map(|c| c.pt).collect::<Vec<_>>(), vec![0, 101]);
        assert_eq!(
            engine_codecs(&[], None).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
    }

    #[test]
    fn directions_follow_rfc_3264() {
        use Direction::*;
        assert_eq!(answer_direction(SendRecv, SendRecv), SendRecv);
        assert_eq!(answer_direction(SendRecv, SendOnly), RecvOnly);
        assert_eq!(answer_direction(SendOnly, SendRecv), SendOnly);
        assert_eq!(answer_direction(SendOnly, SendOnly), Inactive);
        assert_eq!(answer_direction(SendRecv, Inactive), Inactive);
        assert_eq!(intersect(SendRecv, RecvOnly), RecvOnly);
        let s =
            "v=0\r\nm=audio 1 RTP/AVP 0\r\na=sendonly\r\nm=video 2 RTP/AVP 96\r\na=recvonly\r\n";
        assert_eq!(parse_direction(s), Some(SendOnly));
        assert_eq!(parse_direction("v=0\r\nm=audio 1 RTP/AVP 0\r\n"), None);
    }
}
