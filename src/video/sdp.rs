//! Which offered video codecs a connection keeps, and how the video section
//! of a remote description is cut down before rtc sees it.
//!
//! Kept: VP8/90000, H264/90000 with `packetization-mode=1` and a known
//! profile, and `rtx/90000` whose `apt` names a kept codec (RFC 4588). Only
//! the feedback we act on survives (`nack`, `nack pli`, `ccm fir`):
//! advertising `transport-cc` or `goog-remb` would promise reports we never
//! send. Header extensions are dropped (rtc registers none for video).

use super::VideoCodec;
use crate::sdp::parse::{Attributes, MediaSection, SdpLine};
use crate::sdp::Direction;

/// One kept video payload type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoPayload {
    /// RTP payload type.
    pub pt: u8,
    /// Codec.
    pub codec: VideoCodec,
    /// fmtp parameters as offered (normalised spacing), possibly empty.
    pub fmtp: String,
    /// The RTX payload type repairing this one, if offered.
    pub rtx: Option<u8>,
    /// `a=rtcp-fb:<pt> nack` offered.
    pub nack: bool,
    /// `a=rtcp-fb:<pt> nack pli` offered.
    pub pli: bool,
    /// `a=rtcp-fb:<pt> ccm fir` offered.
    pub fir: bool,
}

/// The video section kept from a remote description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteVideo {
    /// Index of the section in the original SDP.
    pub index: usize,
    /// Its `a=mid`.
    pub mid: String,
    /// Kept payload types, in offer order.
    pub payloads: Vec<VideoPayload>,
    /// Its direction as offered.
    pub direction: crate::sdp::Direction,
    /// The bitrate the far end takes, in bit/s: `b=TIAS` (RFC 3890), else
    /// `b=AS` (RFC 4566, kbit/s).
    pub max_bitrate: Option<u64>,
}

/// The receive bitrate a video section asks for: `b=TIAS` in bit/s, else
/// `b=AS` in kbit/s (which counts packet headers too: taken as is).
///
/// ```
/// use sipwire::sdp::parse::Sdp;
/// let doc = Sdp::parse("v=0\r\nm=video 9 RTP/AVP 96\r\nb=AS:500\r\n").unwrap();
/// assert_eq!(sipwire::video::sdp::max_bitrate(&doc.media[0]), Some(500_000));
/// ```
pub fn max_bitrate(m: &MediaSection) -> Option<u64> {
    let bw = |kind: &str| {
        m.lines.iter().filter(|l| l.typ == 'b').find_map(|l| {
            let (k, v) = l.value.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(kind)
                .then(|| v.trim().parse::<u64>().ok())
                .flatten()
        })
    };
    bw("TIAS").or_else(|| bw("AS").map(|kbps| kbps.saturating_mul(1000)))
}

/// H.264 profiles browsers negotiate, from the first byte of
/// `profile-level-id` (RFC 6184 §8.1): baseline, main, extended, high.
fn h264_profile_ok(fmtp: &str) -> bool {
    let mut mode = 0u8;
    let mut profile = Some(0x42u8); // RFC 6184 default: 42000A
    for p in fmtp.split(';') {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "packetization-mode" => mode = v.trim().parse().unwrap_or(255),
            "profile-level-id" => {
                let v = v.trim();
                profile = (v.len() == 6)
                    .then(|| u8::from_str_radix(&v[..2], 16).ok())
                    .flatten();
            }
            _ => {}
        }
    }
    mode == 1 && matches!(profile, Some(0x42 | 0x4d | 0x58 | 0x64))
}

fn fmtp_of(m: &MediaSection, pt: u8) -> String {
    m.attrs("fmtp")
        .into_iter()
        .find_map(|v| {
            let (p, params) = v.trim().split_once(char::is_whitespace)?;
            (p == pt.to_string()).then(|| crate::sdp::remote::normalize_fmtp_params(params))
        })
        .unwrap_or_default()
}

fn apt_of(fmtp: &str) -> Option<u8> {
    fmtp.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("apt")
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

/// Cut `m` down to the payload types of `allowed` codecs (and their RTX).
/// Returns the kept payloads (primary ones only; RTX in their `rtx`), empty
/// when nothing is in common (the caller then rejects the section).
///
/// ```
/// use sipwire::sdp::parse::MediaSection;
/// use sipwire::video::{sdp::filter_section, VideoCodec};
/// let mut m = MediaSection::parse_m("video 9 UDP/TLS/RTP/SAVPF 96 97 98").unwrap();
/// for l in ["rtpmap:96 VP8/90000", "rtpmap:97 rtx/90000", "fmtp:97 apt=96", "rtpmap:98 AV1/90000"] {
///     m.lines.push(sipwire::sdp::parse::SdpLine::new('a', l));
/// }
/// let kept = filter_section(&mut m, &[VideoCodec::Vp8]);
/// assert_eq!((kept[0].pt, kept[0].rtx), (96, Some(97)));
/// assert_eq!(m.fmts, vec!["96", "97"]);
/// ```
pub fn filter_section(m: &mut MediaSection, allowed: &[VideoCodec]) -> Vec<VideoPayload> {
    let mut maps: Vec<(u8, String, u32)> = Vec::new();
    for v in m.attrs("rtpmap") {
        let Some((pt, enc)) = v.trim().split_once(char::is_whitespace) else {
            continue;
        };
        let mut parts = enc.trim().split('/');
        let (Ok(pt), Some(name), Some(Ok(rate))) = (
            pt.parse::<u8>(),
            parts.next(),
            parts.next().map(|r| r.trim().parse::<u32>()),
        ) else {
            continue;
        };
        maps.push((pt, name.trim().to_ascii_lowercase(), rate));
    }
    let offered: Vec<u8> = m.fmts.iter().filter_map(|f| f.parse().ok()).collect();
    let mut kept: Vec<VideoPayload> = Vec::new();
    for &pt in &offered {
        let Some((_, name, 90000)) = maps.iter().find(|x| x.0 == pt) else {
            continue;
        };
        let codec = match name.as_str() {
            "vp8" => VideoCodec::Vp8,
            "h264" => VideoCodec::H264,
            _ => continue,
        };
        if !allowed.contains(&codec) || kept.iter().any(|k| k.pt == pt) {
            continue;
        }
        let fmtp = fmtp_of(m, pt);
        if codec == VideoCodec::H264 && !h264_profile_ok(&fmtp) {
            continue;
        }
        // RFC 4585 §4.2: `*` applies a feedback line to every payload type
        // (baresip writes `a=rtcp-fb:* nack pli`).
        let fb = |want: &[&str]| {
            m.attrs("rtcp-fb").iter().any(|v| {
                let mut it = v.split_whitespace();
                it.next()
                    .is_some_and(|p| p == "*" || p.parse::<u8>().ok() == Some(pt))
                    && it.collect::<Vec<_>>() == want
            })
        };
        kept.push(VideoPayload {
            pt,
            codec,
            fmtp,
            rtx: None,
            nack: fb(&["nack"]),
            pli: fb(&["nack", "pli"]),
            fir: fb(&["ccm", "fir"]),
        });
    }
    for &pt in &offered {
        let Some((_, name, 90000)) = maps.iter().find(|x| x.0 == pt) else {
            continue;
        };
        if name != "rtx" {
            continue;
        }
        if let Some(apt) = apt_of(&fmtp_of(m, pt)) {
            if let Some(k) = kept.iter_mut().find(|k| k.pt == apt && k.rtx.is_none()) {
                k.rtx = Some(pt);
            }
        }
    }
    let keep: Vec<u8> = kept
        .iter()
        .flat_map(|k| std::iter::once(k.pt).chain(k.rtx))
        .collect();
    m.fmts
        .retain(|f| f.parse::<u8>().is_ok_and(|p| keep.contains(&p)));
    m.fmts.dedup();
    let feedback_ok = |v: &str| {
        let mut it = v.split_whitespace();
        let pt_ok = it
            .next()
            .and_then(|p| p.parse::<u8>().ok())
            .is_some_and(|p| kept.iter().any(|k| k.pt == p));
        let fb: Vec<&str> = it.collect();
        pt_ok && matches!(fb.as_slice(), ["nack"] | ["nack", "pli"] | ["ccm", "fir"])
    };
    m.lines.retain(|l| match l.attr_key() {
        Some("rtpmap") | Some("fmtp") => l.attr_value().is_some_and(|v| {
            v.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u8>().ok())
                .is_some_and(|p| keep.contains(&p))
        }),
        Some("rtcp-fb") => l.attr_value().is_some_and(feedback_ok),
        Some("extmap")
        | Some("extmap-allow-mixed")
        | Some("crypto")
        | Some("rid")
        | Some("simulcast") => false,
        _ => true,
    });
    kept
}

/// Index of the first active video section after `audio_index` that an
/// `a=group:BUNDLE` line groups with the audio section (we carry video only
/// over the audio's transport).
pub fn bundled_video_index(
    session: &[SdpLine],
    media: &[MediaSection],
    audio_index: usize,
) -> Option<usize> {
    let audio_mid = media.get(audio_index)?.attr("mid")?.trim();
    let (i, m) = media.iter().enumerate().find(|(i, m)| {
        *i > audio_index && m.media.eq_ignore_ascii_case("video") && m.port_number() != 0
    })?;
    let vmid = m.attr("mid")?.trim();
    let bundled = session.iter().any(|l| {
        l.attr_value().is_some_and(|v| {
            let mut it = v.split_whitespace();
            l.is_attr("group") && it.next().is_some_and(|t| t.eq_ignore_ascii_case("BUNDLE")) && {
                let ids: Vec<&str> = it.collect();
                ids.contains(&audio_mid) && ids.contains(&vmid)
            }
        })
    });
    bundled.then_some(i)
}

/// Give a kept video section the audio section's transport (proto,
/// fingerprint, setup, ICE credentials; candidates live in the audio
/// section only, as with BUNDLE), one direction and `a=rtcp-mux`, as rtc
/// expects. Returns the section's direction as offered.
pub fn finish_section(video: &mut MediaSection, audio: &MediaSection) -> Direction {
    let direction = video
        .lines
        .iter()
        .filter_map(|l| l.attr_key().and_then(Direction::parse))
        .next()
        .unwrap_or(Direction::SendRecv);
    video.proto = audio.proto.clone();
    video.lines.retain(|l| match l.typ {
        'a' => !matches!(
            l.attr_key(),
            Some(
                "fingerprint"
                    | "setup"
                    | "ice-ufrag"
                    | "ice-pwd"
                    | "ice-options"
                    | "candidate"
                    | "end-of-candidates"
                    | "rtcp"
                    | "rtcp-mux"
                    | "rtcp-rsize"
                    | "sendrecv"
                    | "sendonly"
                    | "recvonly"
                    | "inactive"
            )
        ),
        'c' | 'i' => true,
        _ => false,
    });
    let mut first_c = true;
    video
        .lines
        .retain(|l| l.typ != 'c' || std::mem::replace(&mut first_c, false));
    for key in ["ice-ufrag", "ice-pwd", "fingerprint", "setup"] {
        if let Some(v) = audio.attr(key) {
            video.push_attr(key, Some(v));
        }
    }
    video.push_attr(direction.as_str(), None);
    video.push_attr("rtcp-mux", None);
    direction
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(fmts: &str, attrs: &[&str]) -> MediaSection {
        let mut m = MediaSection::parse_m(&format!("video 9 UDP/TLS/RTP/SAVPF {fmts}")).unwrap();
        for a in attrs {
            m.lines.push(SdpLine::new('a', *a));
        }
        m
    }

    #[test]
    fn chrome_like_section_keeps_vp8_h264_mode1_and_their_rtx() {
        let mut m = section(
            "96 97 102 103 106 107 35 36 45",
            &[
                "rtpmap:96 VP8/90000",
                "rtcp-fb:96 goog-remb",
                "rtcp-fb:96 transport-cc",
                "rtcp-fb:96 ccm fir",
                "rtcp-fb:96 nack",
                "rtcp-fb:96 nack pli",
                "rtpmap:97 rtx/90000",
                "fmtp:97 apt=96",
                "rtpmap:102 H264/90000",
                "fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                "rtpmap:103 rtx/90000",
                "fmtp:103 apt=102",
                "rtpmap:106 H264/90000",
                "fmtp:106 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
                "rtpmap:107 rtx/90000",
                "fmtp:107 apt=106",
                "rtpmap:35 AV1/90000",
                "rtpmap:36 rtx/90000",
                "fmtp:36 apt=35",
                "rtpmap:45 H264/90000",
                "fmtp:45 packetization-mode=1;profile-level-id=f4001f",
                "extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            ],
        );
        let kept = filter_section(&mut m, &[VideoCodec::Vp8, VideoCodec::H264]);
        let pts: Vec<(u8, Option<u8>)> = kept.iter().map(|k| (k.pt, k.rtx)).collect();
        assert_eq!(pts, vec![(96, Some(97)), (102, Some(103))]);
        assert!(kept[0].nack && kept[0].pli && kept[0].fir);
        assert!(!kept[1].nack);
        assert_eq!(m.fmts, vec!["96", "97", "102", "103"]);
        let fb: Vec<&str> = m.attrs("rtcp-fb");
        assert_eq!(fb, vec!["96 ccm fir", "96 nack", "96 nack pli"]);
        assert!(!m.has_attr("extmap"));
        assert!(m.attrs("rtpmap").iter().all(|v| !v.contains("AV1")));
    }

    #[test]
    fn only_allowed_codecs_and_nothing_in_common_is_empty() {
        let mut m = section(
            "96 102",
            &[
                "rtpmap:96 VP8/90000",
                "rtpmap:102 H264/90000",
                "fmtp:102 packetization-mode=1;profile-level-id=42e01f",
            ],
        );
        let kept = filter_section(&mut m.clone(), &[VideoCodec::H264]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].codec, VideoCodec::H264);
        let mut vp9 = section("98", &["rtpmap:98 VP9/90000"]);
        assert!(filter_section(&mut vp9, &[VideoCodec::Vp8, VideoCodec::H264]).is_empty());
        // H.264 without packetization-mode=1 is not kept.
        // A wildcard feedback line applies to every kept payload type.
        let mut star = section("96", &["rtpmap:96 VP8/90000", "rtcp-fb:* nack pli"]);
        let kept = filter_section(&mut star, &[VideoCodec::Vp8]);
        assert!(kept[0].pli && !kept[0].nack && !kept[0].fir);
        let mut m0 = section("102", &["rtpmap:102 H264/90000"]);
        assert!(filter_section(&mut m0, &[VideoCodec::H264]).is_empty());
        let _ = filter_section(&mut m, &[VideoCodec::Vp8]);
        assert_eq!(m.fmts, vec!["96"]);
    }
}
