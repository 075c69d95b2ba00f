//! The video section in rtc's media engine and in our local descriptions.

use super::sdp::RemoteVideo;
use super::{VideoCodec, VideoConfig};
use crate::error::Result;
use crate::sdp::parse::{Attributes, Sdp};
use crate::sdp::Direction;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_H264, MIME_TYPE_RTX, MIME_TYPE_VP8,
};
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

/// Payload types of our own video offer: VP8 96 (RTX 97), H.264
/// constrained baseline 102 (RTX 103), as browsers number them.
const OFFER: [(VideoCodec, u8, u8, &str); 2] = [
    (VideoCodec::Vp8, 96, 97, ""),
    (
        VideoCodec::H264,
        102,
        103,
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    ),
];

fn feedback(nack: bool, pli: bool, fir: bool) -> Vec<RTCPFeedback> {
    let mut v = Vec::new();
    let mut add = |on: bool, typ: &str, parameter: &str| {
        if on {
            v.push(RTCPFeedback {
                typ: typ.to_owned(),
                parameter: parameter.to_owned(),
            });
        }
    };
    add(fir, "ccm", "fir");
    add(nack, "nack", "");
    add(pli, "nack", "pli");
    v
}

fn register_one(
    me: &mut MediaEngine,
    mime: &str,
    pt: u8,
    fmtp: String,
    fb: Vec<RTCPFeedback>,
) -> Result<()> {
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: 90000,
                channels: 0,
                sdp_fmtp_line: fmtp,
                rtcp_feedback: fb,
            },
            payload_type: pt,
        },
        RtpCodecKind::Video,
    )?;
    Ok(())
}

fn mime(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::Vp8 => MIME_TYPE_VP8,
        VideoCodec::H264 => MIME_TYPE_H264,
    }
}

/// Register the video codecs rtc may answer (the offer's kept payload
/// types, with their numbers and parameters) or offer (ours).
pub fn register(
    me: &mut MediaEngine,
    offer: Option<&RemoteVideo>,
    cfg: &VideoConfig,
) -> Result<()> {
    match offer {
        Some(v) => {
            for p in &v.payloads {
                register_one(
                    me,
                    mime(p.codec),
                    p.pt,
                    p.fmtp.clone(),
                    feedback(p.nack, p.pli, p.fir),
                )?;
                if let Some(rtx) = p.rtx {
                    register_one(me, MIME_TYPE_RTX, rtx, format!("apt={}", p.pt), vec![])?;
                }
            }
        }
        None => {
            for c in &cfg.codecs {
                if let Some((_, pt, rtx, fmtp)) = OFFER.iter().find(|o| o.0 == *c) {
                    register_one(
                        me,
                        mime(*c),
                        *pt,
                        fmtp.to_string(),
                        feedback(true, true, true),
                    )?;
                    register_one(me, MIME_TYPE_RTX, *rtx, format!("apt={pt}"), vec![])?;
                }
            }
        }
    }
    Ok(())
}

/// Add the (receive-only) video transceiver our offers carry when we do
/// not send video.
pub fn add_transceiver(pc: &mut RTCPeerConnection) -> Result<()> {
    pc.add_transceiver_from_kind(
        RtpCodecKind::Video,
        Some(RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        }),
    )?;
    Ok(())
}

/// Our video SSRC and its RTX SSRC, next to the audio one: fixed by it, so
/// seeded identities stay reproducible.
pub fn send_ssrcs(audio_ssrc: u32) -> (u32, u32) {
    (audio_ssrc.wrapping_add(1), audio_ssrc.wrapping_add(2))
}

/// Add the video track we send: rtc then writes its `a=msid`, `a=ssrc`
/// and RTX `a=ssrc-group:FID` lines, so the far end knows the stream
/// before the first packet. Used for offers and answers alike (rtc pairs
/// it with the offer's video section).
pub fn add_track(pc: &mut RTCPeerConnection, audio_ssrc: u32) -> Result<()> {
    use rtc::media_stream::MediaStreamTrack;
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpRtxParameters,
    };
    let (ssrc, rtx) = send_ssrcs(audio_ssrc);
    let track = MediaStreamTrack::new(
        // The audio track's stream: one CNAME for both (RFC 7022).
        "sipwire".to_string(),
        "sipwire-video".to_string(),
        "sipwire-video".to_string(),
        RtpCodecKind::Video,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                rtx: Some(RTCRtpRtxParameters { ssrc: rtx }),
                ..Default::default()
            },
            ..Default::default()
        }],
    );
    pc.add_track(track)?;
    Ok(())
}

/// Our direction for the video section: what the configuration wants,
/// limited by what the offer allows (RFC 3264 §6.1).
pub fn answer_direction(cfg: &VideoConfig, offered: Direction) -> Direction {
    crate::peer::answer_direction(cfg.direction, offered)
}

/// Set the direction of every active video section of a local description.
///
/// ```
/// use sipwire::sdp::Direction;
/// let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n";
/// let out = sipwire::video::negotiate::set_direction(sdp, Direction::RecvOnly);
/// assert!(out.contains("a=recvonly") && !out.contains("a=sendrecv"));
/// ```
pub fn set_direction(sdp: &str, d: Direction) -> String {
    let Ok(mut doc) = Sdp::parse(sdp) else {
        return sdp.to_string();
    };
    for m in doc
        .media
        .iter_mut()
        .filter(|m| m.media == "video" && m.port_number() != 0)
    {
        for k in ["sendrecv", "sendonly", "recvonly", "inactive"] {
            m.remove_attrs(k);
        }
        m.push_attr(d.as_str(), None);
    }
    doc.to_sdp_string()
}

#[cfg(test)]
mod tests {
    use crate::config::PeerConfig;
    use crate::peer::{Description, Peer, SdpType};
    use crate::video::VideoConfig;
    use std::time::Instant;

    const CHROME: &str = include_str!("../../tests/fixtures/sdp/chrome_offer.sdp");

    /// The fixture's video section as Chromium really writes it.
    fn chrome_av_offer() -> String {
        let (head, _) = CHROME.split_once("m=video").unwrap();
        let video = [
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45 46 98 99",
            "c=IN IP4 0.0.0.0",
            "a=rtcp:9 IN IP4 0.0.0.0",
            "a=ice-ufrag:EsAw",
            "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
            "a=ice-options:trickle",
            "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F",
            "a=setup:actpass",
            "a=mid:1",
            "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
            "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=sendrecv",
            "a=msid:3d5f 9b2e",
            "a=rtcp-mux",
            "a=rtcp-rsize",
            "a=rtpmap:96 VP8/90000",
            "a=rtcp-fb:96 goog-remb",
            "a=rtcp-fb:96 transport-cc",
            "a=rtcp-fb:96 ccm fir",
            "a=rtcp-fb:96 nack",
            "a=rtcp-fb:96 nack pli",
            "a=rtpmap:97 rtx/90000",
            "a=fmtp:97 apt=96",
            "a=rtpmap:102 H264/90000",
            "a=rtcp-fb:102 nack",
            "a=rtcp-fb:102 nack pli",
            "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            "a=rtpmap:103 rtx/90000",
            "a=fmtp:103 apt=102",
            "a=rtpmap:45 AV1/90000",
            "a=rtpmap:46 rtx/90000",
            "a=fmtp:46 apt=45",
            "a=rtpmap:98 VP9/90000",
            "a=fmtp:98 profile-id=0",
            "a=rtpmap:99 rtx/90000",
            "a=fmtp:99 apt=98",
            "a=ssrc-group:FID 1111 2222",
            "a=ssrc:1111 cname:abc",
            "a=ssrc:2222 cname:abc",
            "",
        ]
        .join("\r\n");
        format!("{head}{video}")
    }

    fn answer_with(video: Option<VideoConfig>) -> (Peer, String) {
        let cfg = PeerConfig {
            video,
            ..Default::default()
        };
        let now = Instant::now();
        let mut p = Peer::new(cfg, vec!["127.0.0.1:40000".parse().unwrap()], now);
        p.set_remote_description(
            now,
            Description {
                sdp_type: SdpType::Offer,
                sdp: chrome_av_offer(),
            },
        )
        .unwrap();
        let answer = p.create_answer(now).unwrap();
        p.set_local_description(now, Some(answer)).unwrap();
        let sdp = p.local_description().unwrap().sdp;
        (p, sdp)
    }

    fn section<'a>(sdp: &'a str, media: &str) -> &'a str {
        let start = sdp.find(&format!("m={media} ")).unwrap();
        let rest = &sdp[start..];
        let end = rest[2..].find("\r\nm=").map_or(rest.len(), |e| e + 4);
        &rest[..end]
    }

    #[test]
    fn video_is_answered_recvonly_with_vp8_h264_rtx_and_feedback_when_enabled() {
        let (p, sdp) = answer_with(Some(VideoConfig::from_input(&[], None).unwrap()));
        crate::sdp::remote::tests::assert_rtc_accepts(&sdp);
        let v = section(&sdp, "video");
        assert!(!v.starts_with("m=video 0 "), "{sdp}");
        assert!(v.contains("a=mid:1") && v.contains("a=recvonly"), "{v}");
        assert!(v.contains("VP8/90000") && v.contains("H264/90000"), "{v}");
        assert!(
            v.contains("a=rtpmap:97 rtx/90000") && v.contains("apt=96"),
            "{v}"
        );
        assert!(
            v.contains("a=rtcp-fb:96 nack pli") && v.contains("a=rtcp-fb:96 ccm fir"),
            "{v}"
        );
        assert!(
            !v.contains("AV1") && !v.contains("VP9") && !v.contains("transport-cc"),
            "{v}"
        );
        assert!(sdp.contains("a=group:BUNDLE 0 1"), "{sdp}");
        assert_eq!(sdp.matches("m=").count(), 2);
        let vr = p.video().expect("a video receiver");
        assert!(vr.owns(96) && vr.owns(97) && vr.owns(102) && !vr.owns(111));
    }

    #[test]
    fn default_configuration_still_rejects_video() {
        let (p, sdp) = answer_with(None);
        assert!(section(&sdp, "video").starts_with("m=video 0 "), "{sdp}");
        assert!(p.video().is_none());
        // Only H.264 allowed: VP8 is not answered.
        let (_, sdp) = answer_with(Some(
            VideoConfig::from_input(&["h264".into()], None).unwrap(),
        ));
        let v = section(&sdp, "video");
        assert!(v.contains("H264/90000") && !v.contains("VP8"), "{v}");
    }

    #[test]
    fn our_offer_carries_a_recvonly_video_section() {
        let cfg = PeerConfig {
            video: Some(VideoConfig::from_input(&["vp8".into(), "h264".into()], None).unwrap()),
            ..Default::default()
        };
        let now = Instant::now();
        let mut p = Peer::new(cfg, vec!["127.0.0.1:40000".parse().unwrap()], now);
        let offer = p.create_offer(now, false).unwrap();
        let v = section(&offer.sdp, "video");
        assert!(
            v.contains("a=recvonly") && v.contains("VP8/90000") && v.contains("H264/90000"),
            "{}",
            offer.sdp
        );
    }
}
