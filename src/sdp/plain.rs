//! SDP for the plain profiles: RTP/AVP (no encryption) and RTP/SAVP keyed by
//! SDES `a=crypto` (RFC 4568), both without ICE and DTLS, as trunks, PBX
//! extensions, desk phones and SIPp send them.
//!
//! [`profile_of`] tells a remote SDP's profile (the DTLS one keeps its own
//! path, [`super::normalize_remote`]); [`parse`] reads a plain SDP into
//! [`PlainSdp`]; [`write`] produces ours. rtc never sees these SDPs.
//!
//! ```
//! use sipwire::sdp::plain::{profile_of, MediaProfile};
//! let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
//! assert_eq!(profile_of(offer).unwrap(), MediaProfile::Rtp);
//! ```

use super::error::SdpError;
use super::limits;
use super::parse::{Attributes, MediaSection, Sdp};
use super::remote::{static_payload, RemoteCodec};
use super::{Direction, RejectedSection};
pub use crate::ice_lite::{LocalIce, RemoteIce};
use crate::plain_rtp::RemoteMedia;
use crate::sdes::{CryptoAttr, CryptoLineError};
use std::net::{IpAddr, SocketAddr};

/// A media profile: what we offer (configured) or what a remote SDP uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MediaProfile {
    /// ICE + DTLS-SRTP (`UDP/TLS/RTP/SAVPF`), what browsers speak.
    #[default]
    WebRtc,
    /// Plain RTP (`RTP/AVP`), unencrypted.
    Rtp,
    /// SRTP keyed by SDES (`RTP/SAVP` with `a=crypto`).
    Sdes,
}

impl MediaProfile {
    /// The configuration name: `webrtc`, `rtp` or `sdes`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaProfile::WebRtc => "webrtc",
            MediaProfile::Rtp => "rtp",
            MediaProfile::Sdes => "sdes",
        }
    }

    /// From the configuration name.
    pub fn parse(s: &str) -> Option<MediaProfile> {
        match s.to_ascii_lowercase().as_str() {
            "webrtc" => Some(MediaProfile::WebRtc),
            "rtp" => Some(MediaProfile::Rtp),
            "sdes" => Some(MediaProfile::Sdes),
            _ => None,
        }
    }

    /// The m-line proto we write for it.
    pub fn proto(self) -> &'static str {
        match self {
            MediaProfile::WebRtc => "UDP/TLS/RTP/SAVPF",
            MediaProfile::Rtp => "RTP/AVP",
            MediaProfile::Sdes => "RTP/SAVP",
        }
    }
}

fn first_audio(sdp: &Sdp) -> Option<&MediaSection> {
    sdp.media
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio") && m.port_number() != 0)
        .or_else(|| {
            sdp.media
                .iter()
                .find(|m| m.media.eq_ignore_ascii_case("audio"))
        })
}

/// The profile of the first audio section of `text`. A DTLS fingerprint
/// anywhere, or a `UDP/TLS/` proto, means [`MediaProfile::WebRtc`] (its
/// own checks then apply); `RTP/SAVP(F)` with `a=crypto` is SDES;
/// `RTP/AVP(F)` is plain. Anything else is left to the WebRTC path, whose
/// error names what is wrong.
pub fn profile_of(text: &str) -> Result<MediaProfile, SdpError> {
    limits::check_size(text, "SDP")?;
    let sdp = Sdp::parse(text)?;
    let Some(audio) = first_audio(&sdp) else {
        return Ok(MediaProfile::WebRtc);
    };
    let has_fp =
        audio.has_attr("fingerprint") || sdp.session.iter().any(|l| l.is_attr("fingerprint"));
    let proto = audio.proto.to_ascii_uppercase();
    Ok(match proto.as_str() {
        _ if has_fp || proto.starts_with("UDP/TLS/") => MediaProfile::WebRtc,
        "RTP/AVP" | "RTP/AVPF" => MediaProfile::Rtp,
        "RTP/SAVP" | "RTP/SAVPF" if audio.has_attr("crypto") => MediaProfile::Sdes,
        _ => MediaProfile::WebRtc,
    })
}

/// What we read from a plain remote SDP.
#[derive(Clone, Debug)]
pub struct PlainSdp {
    /// Rtp or Sdes.
    pub profile: MediaProfile,
    /// The audio proto as written (echoed in our answer).
    pub proto: String,
    /// Index of the audio section in the SDP.
    pub audio_index: usize,
    /// Every payload type with a known mapping, in the SDP's order
    /// (unknown dynamic ones are left out; CN is kept and ignored later).
    pub codecs: Vec<RemoteCodec>,
    /// Audio direction (media level, else session level, else sendrecv);
    /// `c=0.0.0.0` reads as `inactive` towards us if no direction says otherwise.
    pub direction: Direction,
    /// Where the far end receives.
    pub media: RemoteMedia,
    /// Usable `a=crypto` lines, in order.
    pub crypto: Vec<CryptoAttr>,
    /// Why other `a=crypto` lines were skipped.
    pub crypto_skipped: Vec<CryptoLineError>,
    /// `a=ptime`, ms.
    pub ptime: Option<u32>,
    /// `a=maxptime`, ms.
    pub maxptime: Option<u32>,
    /// The far end offered or answered `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// ICE credentials, when the far end speaks ICE (see [`crate::ice_lite`]).
    pub ice: Option<RemoteIce>,
    /// Sections we do not take (answered with port 0).
    pub rejected_sections: Vec<RejectedSection>,
}

fn parse_conn(value: &str) -> Result<Option<IpAddr>, SdpError> {
    // "IN IP4 10.0.0.1" (a "/ttl" suffix is multicast: not for us).
    let mut it = value.split_whitespace();
    let (Some(_net), Some(_fam), Some(addr)) = (it.next(), it.next(), it.next()) else {
        return Err(SdpError::Parse(format!("malformed c= line `c={value}`")));
    };
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().map_err(|_| {
        SdpError::Parse(format!(
            "c= address {addr:?} is not an IP address (host names are not resolved)"
        ))
    })?;
    Ok((!ip.is_unspecified()).then_some(ip))
}

fn attr_u32(m: &MediaSection, key: &str) -> Option<u32> {
    m.attr(key).and_then(|v| v.trim().parse().ok())
}

/// Where a plain section's RTP and RTCP go: the section's port at `conn`,
/// RTCP at RFC 3605's `a=rtcp:port [IN IP4 addr]` when given, `a=rtcp-mux`.
pub(crate) fn remote_media(m: &MediaSection, conn: Option<IpAddr>) -> RemoteMedia {
    let rtcp = m.attr("rtcp").and_then(|v| {
        let mut it = v.split_whitespace();
        let p: u16 = it.next()?.parse().ok()?;
        let ip = match (it.next(), it.next(), it.next()) {
            (Some(_), Some(_), Some(a)) => a.parse().ok()?,
            _ => conn?,
        };
        Some(SocketAddr::new(ip, p))
    });
    RemoteMedia {
        rtp: conn.map(|ip| SocketAddr::new(ip, m.port_number())),
        rtcp,
        rtcp_mux: m.has_attr("rtcp-mux"),
    }
}

/// A section's ICE credentials, each from the section or else the session
/// (RFC 8839 §5.4), and whether the far end is ICE-lite.
pub(crate) fn remote_ice(sdp: &Sdp, m: &MediaSection) -> Option<RemoteIce> {
    let session_attr = |key: &str| {
        sdp.session
            .iter()
            .find(|l| l.is_attr(key))
            .map(|l| l.attr_value().unwrap_or("").trim().to_string())
    };
    let ice_attr = |key: &str| {
        m.attr(key)
            .map(|v| v.trim().to_string())
            .or_else(|| session_attr(key))
            .filter(|v| !v.is_empty())
    };
    Some(RemoteIce {
        ufrag: ice_attr("ice-ufrag")?,
        pwd: ice_attr("ice-pwd")?,
        lite: session_attr("ice-lite").is_some(),
    })
}

/// Read a plain (RTP/AVP or SDES) SDP. `what` names it in errors.
pub fn parse(text: &str, what: &str) -> Result<PlainSdp, SdpError> {
    limits::check_size(text, what)?;
    let sdp = Sdp::parse(text)?;
    limits::check_sections(sdp.media.len(), what)?;
    let idx = sdp
        .media
        .iter()
        .position(|m| m.media.eq_ignore_ascii_case("audio") && m.port_number() != 0)
        .ok_or_else(|| SdpError::Parse(format!("{what} has no audio section with a port")))?;
    let audio = &sdp.media[idx];
    limits::check_lines(audio.lines.len(), "audio", what)?;
    let proto_u = audio.proto.to_ascii_uppercase();
    let profile = match proto_u.as_str() {
        "RTP/AVP" | "RTP/AVPF" => MediaProfile::Rtp,
        "RTP/SAVP" | "RTP/SAVPF" => MediaProfile::Sdes,
        _ => {
            return Err(SdpError::UnsupportedProfile(format!(
                "{what} uses {} for audio, not RTP/AVP or RTP/SAVP",
                audio.proto
            )))
        }
    };
    let conn = match audio.connection().or_else(|| sdp.session_line('c')) {
        Some(c) => parse_conn(c)?,
        None => return Err(SdpError::Parse(format!("{what} has no c= line for audio"))),
    };
    let media = remote_media(audio, conn);
    let rtcp_mux = media.rtcp_mux;
    let ice = remote_ice(&sdp, audio);
    let mut codecs = Vec::new();
    for f in &audio.fmts {
        let Ok(pt) = f.parse::<u8>() else { continue };
        if pt > 127 {
            continue;
        }
        let rtpmap = audio
            .attrs("rtpmap")
            .into_iter()
            .find(|v| v.split_whitespace().next() == Some(f.as_str()));
        let (name, rate, channels) = match rtpmap {
            Some(v) => {
                let enc = v.split_whitespace().nth(1).unwrap_or("");
                let mut p = enc.split('/');
                let name = p.next().unwrap_or("").to_string();
                let Some(rate) = p.next().and_then(|r| r.parse::<u32>().ok()) else {
                    continue;
                };
                let ch = p.next().and_then(|c| c.parse::<u16>().ok()).unwrap_or(1);
                (name, rate, ch)
            }
            None => match static_payload(pt) {
                Some((n, r, c)) => (n.to_string(), r, c),
                None => continue,
            },
        };
        let fmtp = audio
            .attrs("fmtp")
            .into_iter()
            .find(|v| v.split_whitespace().next() == Some(f.as_str()))
            .and_then(|v| {
                v.split_once(' ')
                    .map(|(_, p)| super::remote::normalize_fmtp_params(p))
            });
        let name = if name.eq_ignore_ascii_case("telephone-event") {
            "telephone-event".to_string()
        } else {
            name
        };
        codecs.push(RemoteCodec {
            pt,
            name,
            clock_rate: rate,
            channels,
            fmtp,
        });
    }
    let direction = audio
        .lines
        .iter()
        .rev()
        .chain(sdp.session.iter().rev())
        .find_map(|l| l.attr_key().and_then(Direction::parse))
        .unwrap_or(if conn.is_none() {
            // RFC 2543 hold: c=0.0.0.0 means "do not send to me".
            Direction::SendOnly
        } else {
            Direction::SendRecv
        });
    let (crypto, crypto_skipped) = crate::sdes::parse_all(audio.attrs("crypto"));
    let rejected_sections = sdp
        .media
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != idx)
        .map(|(i, m)| RejectedSection {
            index: i,
            media: m.media.clone(),
            proto: m.proto.clone(),
            fmt: m.fmts.join(" "),
            mid: m.attr("mid").map(str::to_string),
        })
        .collect();
    Ok(PlainSdp {
        profile,
        proto: audio.proto.clone(),
        audio_index: idx,
        codecs,
        direction,
        media,
        crypto,
        crypto_skipped,
        ptime: attr_u32(audio, "ptime"),
        maxptime: attr_u32(audio, "maxptime"),
        rtcp_mux,
        ice,
        rejected_sections,
    })
}

/// One payload type we put on our m-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFormat {
    /// Payload type.
    pub pt: u8,
    /// Encoding name as in `a=rtpmap`.
    pub name: String,
    /// Clock rate.
    pub clock_rate: u32,
    /// Channels (written only when not 1).
    pub channels: u16,
    /// fmtp parameters.
    pub fmtp: Option<String>,
}

/// What our plain SDP says.
#[derive(Clone, Debug)]
pub struct PlainLocal {
    /// Rtp or Sdes.
    pub profile: MediaProfile,
    /// The proto to write (an answer echoes the offer's, e.g. `RTP/AVPF`).
    pub proto: String,
    /// Our RTP address (also where we take RTCP: see `rtcp_mux`).
    pub addr: SocketAddr,
    /// Formats in preference order.
    pub formats: Vec<LocalFormat>,
    /// Direction.
    pub direction: Direction,
    /// Our `a=crypto` lines (one in an answer).
    pub crypto: Vec<CryptoAttr>,
    /// `a=ptime` to write.
    pub ptime: u32,
    /// Write `a=rtcp-mux` (an offer always does; an answer only if offered).
    pub rtcp_mux: bool,
    /// Our RTCP port when an RTCP socket is bound (RTP port + 1); `None`
    /// names the RTP port, where RTCP is taken too.
    pub rtcp_port: Option<u16>,
    /// ICE-lite lines (answers to offers with ICE only).
    pub ice: Option<LocalIce>,
    /// o= session id and version.
    pub session_id: u64,
    /// o= version.
    pub version: u64,
    /// Sections answered with port 0, at their index.
    pub rejected_sections: Vec<RejectedSection>,
    /// Index of the audio section (answers mirror the offer's order).
    pub audio_index: usize,
    /// Our video section, written by [`crate::video::plain_sdp::write_section`],
    /// and its index (not in `rejected_sections`).
    pub video: Option<(usize, String)>,
}

/// A plain section's transport lines: `a=rtcp` (RFC 3605: `rtcp_port`,
/// else the RTP port), `a=rtcp-mux`, `a=crypto`, and with ICE-lite its
/// credentials and a host candidate per component (foundation `found`, at
/// `ip`: RTP's port, then RTCP's).
pub(crate) fn push_transport_attrs(
    s: &mut String,
    port: u16,
    rtcp_port: Option<u16>,
    rtcp_mux: bool,
    crypto: &[CryptoAttr],
    ice: Option<(&LocalIce, IpAddr, u8)>,
) {
    let rtcp_port = rtcp_port.unwrap_or(port);
    s.push_str(&format!("a=rtcp:{rtcp_port}\r\n"));
    if rtcp_mux {
        s.push_str("a=rtcp-mux\r\n");
    }
    for c in crypto {
        s.push_str(&format!("a=crypto:{}\r\n", c.to_value()));
    }
    if let Some((ice, ip, found)) = ice {
        s.push_str(&format!(
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
            ice.ufrag, ice.pwd
        ));
        for c in 1..=ice.components.clamp(1, 2) {
            s.push_str(&format!(
                "a=candidate:{found} {c} UDP {} {ip} {} typ host\r\n",
                crate::ice_lite::host_priority(c),
                if c == 1 { port } else { rtcp_port }
            ));
        }
    }
}

/// Our plain SDP. RTCP is received on the RTP socket whatever the far end
/// does, and on RTP port + 1 when that socket is bound. `a=rtcp:` (RFC 3605)
/// names port + 1 then: it is the RFC 3550 default, so peers that honour
/// `a=rtcp` and peers that ignore it send to the same place, and an offer
/// with `a=rtcp-mux` carries the fallback port as RFC 5761 §5.1.3 asks.
/// Without that socket it names the RTP port.
pub fn write(l: &PlainLocal) -> String {
    let fam = if l.addr.is_ipv4() { "IP4" } else { "IP6" };
    let ip = l.addr.ip();
    let mut s = format!(
        "v=0\r\no=- {} {} IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\n",
        l.session_id, l.version
    );
    if l.ice.is_some() {
        // RFC 8839 §5.3: ice-lite is a session-level attribute.
        s.push_str("a=ice-lite\r\n");
    }
    let mut sections: Vec<String> = Vec::new();
    let mut audio = format!("m=audio {} {}", l.addr.port(), l.proto);
    for f in &l.formats {
        audio.push_str(&format!(" {}", f.pt));
    }
    audio.push_str("\r\n");
    for f in &l.formats {
        if f.channels > 1 {
            audio.push_str(&format!(
                "a=rtpmap:{} {}/{}/{}\r\n",
                f.pt, f.name, f.clock_rate, f.channels
            ));
        } else {
            audio.push_str(&format!(
                "a=rtpmap:{} {}/{}\r\n",
                f.pt, f.name, f.clock_rate
            ));
        }
        if let Some(p) = &f.fmtp {
            audio.push_str(&format!("a=fmtp:{} {p}\r\n", f.pt));
        }
    }
    audio.push_str(&format!("a=ptime:{}\r\n", l.ptime));
    push_transport_attrs(
        &mut audio,
        l.addr.port(),
        l.rtcp_port,
        l.rtcp_mux,
        &l.crypto,
        l.ice.as_ref().map(|i| (i, ip, 1)),
    );
    audio.push_str(&format!("a={}\r\n", l.direction.as_str()));
    let total = l.rejected_sections.len() + 1 + usize::from(l.video.is_some());
    let mut video = l.video.as_ref().map(|(i, v)| (*i, v.clone()));
    let mut rejected = l.rejected_sections.iter().collect::<Vec<_>>();
    rejected.sort_by_key(|r| r.index);
    let mut rej = rejected.into_iter().peekable();
    for i in 0..total {
        if i == l.audio_index.min(total - 1) {
            sections.push(std::mem::take(&mut audio));
        } else if video.as_ref().is_some_and(|(vi, _)| *vi == i) {
            sections.extend(video.take().map(|(_, v)| v));
        } else if let Some(r) = rej.next() {
            let fmt = if r.fmt.is_empty() {
                "0"
            } else {
                r.fmt.as_str()
            };
            let mut sec = format!("m={} 0 {} {fmt}\r\n", r.media, r.proto);
            if let Some(mid) = &r.mid {
                sec.push_str(&format!("a=mid:{mid}\r\n"));
            }
            sections.push(sec);
        }
    }
    sections.extend(video.map(|(_, v)| v));
    for sec in sections {
        s.push_str(&sec);
    }
    s
}

/// The static payload type RFC 3551 gives an encoding, if any.
pub fn static_pt(name: &str, clock_rate: u32) -> Option<u8> {
    (0u8..35).find(|pt| {
        static_payload(*pt).is_some_and(|(n, r, _)| n.eq_ignore_ascii_case(name) && r == clock_rate)
    })
}

#[cfg(test)]
#[path = "plain_tests.rs"]
mod tests;
