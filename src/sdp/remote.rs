//! Normalisation of remote (peer) SDP before rtc sees it. See the module
//! documentation of [`crate::sdp`] for the rules.

use std::collections::HashMap;
use std::net::IpAddr;

use super::error::SdpError;
use super::limits::{self, coded};
use super::parse::{Attributes, MediaSection, Sdp, SdpLine};
use super::{Direction, RejectedSection, Setup};
use crate::fingerprint::Fingerprint;

/// Whether the remote SDP is an offer or an answer (only changes wording of
/// error messages today).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpKind {
    /// The remote SDP is an offer.
    Offer,
    /// The remote SDP is an answer.
    Answer,
}

impl SdpKind {
    /// `"offer"` or `"answer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpKind::Offer => "offer",
            SdpKind::Answer => "answer",
        }
    }
}

/// One supported codec from the remote audio section, in offer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCodec {
    /// RTP payload type.
    pub pt: u8,
    /// Canonical name: `opus`, `G722`, `PCMU`, `PCMA`, `G729` or `telephone-event`.
    pub name: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count (2 for opus, 1 otherwise).
    pub channels: u16,
    /// Normalised fmtp parameters (no spaces around `;`), if any.
    pub fmtp: Option<String>,
}

/// A normalised remote SDP plus what we learned from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSdp {
    /// The normalised SDP (CRLF line ends, ending with CRLF), only the audio section.
    pub sdp: String,
    /// Index of the audio m-section in the original SDP.
    pub audio_index: usize,
    /// The audio section's mid after normalisation.
    pub mid: String,
    /// Supported codecs in offer order.
    pub codecs: Vec<RemoteCodec>,
    /// Clock rates of the telephone-event payload types kept.
    pub telephone_event_rates: Vec<u32>,
    /// Audio direction (after moving/defaulting).
    pub direction: Direction,
    /// `a=setup` of the audio section (media or session level), if any.
    pub setup: Option<Setup>,
    /// ICE username fragment.
    pub ice_ufrag: String,
    /// ICE password.
    pub ice_pwd: String,
    /// Whether the original had `a=group:BUNDLE`.
    pub had_bundle: bool,
    /// Whether the original audio section had `a=mid`.
    pub had_mid: bool,
    /// The audio m-line proto as received (before any legacy rewrite).
    pub audio_proto: String,
    /// Sections removed (non-audio, extra audio, port 0).
    pub rejected_sections: Vec<RejectedSection>,
    /// Candidate lines dropped, with a short reason (`"mdns"`, `"tcp"`, ...).
    pub skipped_candidates: Vec<(String, &'static str)>,
    /// Connection address from the audio section's `c=`, else the session `c=`.
    pub connection_addr: Option<String>,
    /// The audio m-line port.
    pub audio_port: u16,
    /// Every usable `a=fingerprint` (session and audio level, RFC 8122
    /// hashes only); the certificate is checked against these.
    pub fingerprints: Vec<Fingerprint>,
    /// Remote candidates dropped beyond [`limits::MAX_REMOTE_CANDIDATES`].
    pub dropped_candidates: usize,
    /// What was ignored, for `warning` events: `"[code] text"`, at most
    /// [`limits::MAX_SKIP_WARNINGS`] + 3 entries.
    pub warnings: Vec<String>,
    /// The video section kept (only when video is enabled, see
    /// [`normalize_remote_with`]); it follows the audio section in `sdp`.
    pub video: Option<crate::video::sdp::RemoteVideo>,
}

const DIRECTIONS: [&str; 4] = ["sendrecv", "sendonly", "recvonly", "inactive"];

/// Name, clock rate and channels of an RFC 3551 static payload type.
pub fn static_payload(pt: u8) -> Option<(&'static str, u32, u16)> {
    Some(match pt {
        0 => ("PCMU", 8000, 1),
        3 => ("GSM", 8000, 1),
        4 => ("G723", 8000, 1),
        5 => ("DVI4", 8000, 1),
        6 => ("DVI4", 16000, 1),
        7 => ("LPC", 8000, 1),
        8 => ("PCMA", 8000, 1),
        9 => ("G722", 8000, 1),
        10 => ("L16", 44100, 2),
        11 => ("L16", 44100, 1),
        12 => ("QCELP", 8000, 1),
        13 => ("CN", 8000, 1),
        14 => ("MPA", 90000, 1),
        15 => ("G728", 8000, 1),
        16 => ("DVI4", 11025, 1),
        17 => ("DVI4", 22050, 1),
        18 => ("G729", 8000, 1),
        _ => return None,
    })
}

/// 32-bit FNV-1a, used for stable candidate foundations.
pub fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Remove whitespace around `;` and `=` in fmtp parameters.
pub fn normalize_fmtp_params(params: &str) -> String {
    params
        .split(';')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
            None => p.trim().to_string(),
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(";")
}

/// Normalise one candidate value (without `a=candidate:`) into the form rtc's
/// `unmarshal_candidate` accepts, or say why it must be dropped.
pub fn normalize_candidate(value: &str) -> Result<String, &'static str> {
    let f: Vec<&str> = value.split_whitespace().collect();
    if f.len() < 8 || !f[6].eq_ignore_ascii_case("typ") {
        return Err("malformed");
    }
    let transport = f[2].to_ascii_lowercase();
    if transport.starts_with("tcp") {
        return Err("tcp");
    }
    if transport != "udp" {
        return Err("transport");
    }
    let component: u16 = f[1].parse().map_err(|_| "malformed")?;
    if component != 1 {
        return Err("rtcp-component");
    }
    f[3].parse::<u32>().map_err(|_| "priority")?;
    let addr = f[4];
    if addr.to_ascii_lowercase().ends_with(".local") {
        return Err("mdns");
    }
    if addr.parse::<IpAddr>().is_err() {
        return Err("hostname");
    }
    let port: u16 = f[5].parse().map_err(|_| "malformed")?;
    if port == 0 {
        return Err("port-zero");
    }
    let typ = f[7].to_ascii_lowercase();
    if !["host", "srflx", "prflx", "relay"].contains(&typ.as_str()) {
        return Err("unknown-type");
    }
    let rest = &f[8..];
    if rest
        .first()
        .is_some_and(|r| r.eq_ignore_ascii_case("raddr"))
        && (rest.len() < 4 || rest[3].parse::<u16>().is_err())
    {
        return Err("malformed");
    }
    let foundation = match f[0].parse::<u32>() {
        Ok(_) => f[0].to_string(),
        Err(_) => fnv1a32(f[0]).to_string(),
    };
    let mut out = vec![
        foundation,
        component.to_string(),
        "udp".to_string(),
        f[3].to_string(),
        addr.to_string(),
        port.to_string(),
        "typ".to_string(),
        typ,
    ];
    for r in rest {
        out.push(
            if r.eq_ignore_ascii_case("raddr") || r.eq_ignore_ascii_case("rport") {
                r.to_ascii_lowercase()
            } else {
                r.to_string()
            },
        );
    }
    Ok(out.join(" "))
}

/// Validate a `c=` value: `IN IP4|IP6 <address>`.
fn check_connection(value: &str) -> Result<(), SdpError> {
    let f: Vec<&str> = value.split_whitespace().collect();
    if f.len() < 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
        return Err(SdpError::Parse(format!("malformed c= line `c={value}`")));
    }
    Ok(())
}

fn connection_address(value: &str) -> Option<String> {
    value
        .split_whitespace()
        .nth(2)
        .map(|a| a.split('/').next().unwrap_or(a).to_string())
}

fn valid_bandwidth(value: &str) -> bool {
    matches!(value.split_once(':'), Some((t, n)) if !t.is_empty() && !n.contains(':') && n.parse::<u64>().is_ok())
}

/// Clean session-level lines so rtc's strict parser accepts them.
fn normalize_session(sdp: &mut Sdp) -> Result<(), SdpError> {
    let mut out: Vec<SdpLine> = Vec::new();
    let mut seen_o = false;
    let mut seen_s = false;
    let mut seen_t = false;
    let mut seen_v = false;
    for l in std::mem::take(&mut sdp.session) {
        match l.typ {
            'v' if !seen_v => {
                seen_v = true;
                out.push(l);
            }
            'o' if !seen_o => {
                seen_o = true;
                let f: Vec<&str> = l.value.split_whitespace().collect();
                if f.len() != 6 {
                    return Err(SdpError::Parse(format!(
                        "malformed o= line `o={}`",
                        l.value
                    )));
                }
                let id = f[1]
                    .parse::<u64>()
                    .unwrap_or_else(|_| u64::from(fnv1a32(f[1])));
                let ver = f[2]
                    .parse::<u64>()
                    .unwrap_or_else(|_| u64::from(fnv1a32(f[2])));
                let (nt, at) = if f[3] == "IN" && (f[4] == "IP4" || f[4] == "IP6") {
                    (f[3], f[4])
                } else {
                    ("IN", "IP4")
                };
                out.push(SdpLine::new(
                    'o',
                    format!("{} {id} {ver} {nt} {at} {}", f[0], f[5]),
                ));
            }
            's' if !seen_s => {
                seen_s = true;
                out.push(l);
            }
            't' => {
                let ok = {
                    let f: Vec<&str> = l.value.split_whitespace().collect();
                    f.len() == 2 && f.iter().all(|x| x.parse::<u64>().is_ok())
                };
                if !seen_t {
                    out.push(if ok { l } else { SdpLine::new('t', "0 0") });
                }
                seen_t = true;
            }
            'c' => {
                check_connection(&l.value)?;
                if !out.iter().any(|x| x.typ == 'c') {
                    out.push(l);
                }
            }
            'b' if valid_bandwidth(&l.value) => out.push(l),
            'i' | 'e' | 'p' | 'a' => out.push(l),
            // u= (rtc parses it as a URL), r=, z=, k=, invalid b=, duplicates, unknown types
            // k= may carry a key (RFC 8866 §5.12): never its value in a log.
            'k' => log::debug!("sdp: dropping session line k=<redacted>"),
            _ => log::debug!("sdp: dropping session line {}={}", l.typ, l.value),
        }
    }
    if !seen_o {
        return Err(SdpError::Parse("no o= line".to_string()));
    }
    if !seen_s {
        out.push(SdpLine::new('s', "-"));
    }
    if !seen_t {
        out.push(SdpLine::new('t', "0 0"));
    }
    sdp.session = out;
    Ok(())
}

/// Check the audio profile and collect the fingerprints.
/// Returns the (possibly rewritten) proto and every usable fingerprint
/// (audio level first, then session level; at least one).
fn check_profile(
    session: &[SdpLine],
    audio: &MediaSection,
    what: &str,
) -> Result<(String, Vec<Fingerprint>), SdpError> {
    let session_fps = session
        .iter()
        .filter(|l| l.is_attr("fingerprint"))
        .filter_map(|l| l.attr_value());
    let fps: Vec<(String, String)> = audio
        .attrs("fingerprint")
        .into_iter()
        .chain(session_fps)
        .filter_map(|v| {
            let mut it = v.split_whitespace();
            Some((it.next()?.to_ascii_lowercase(), it.next()?.to_string()))
        })
        .collect();
    let has_crypto = audio.has_attr("crypto");
    let proto_u = audio.proto.to_ascii_uppercase();
    let new_proto = match proto_u.as_str() {
        "UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP" if !fps.is_empty() => proto_u.clone(),
        "UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP" => {
            return Err(SdpError::UnsupportedProfile(format!(
                "{what} uses {} without a DTLS fingerprint (a=fingerprint); sipwire supports only DTLS-SRTP (UDP/TLS/RTP/SAVPF)",
                audio.proto
            )))
        }
        // Pre-RFC 5764 DTLS-SRTP used the plain SAVP(F) profiles with a fingerprint.
        "RTP/SAVPF" | "RTP/SAVP" if !fps.is_empty() => format!("UDP/TLS/{proto_u}"),
        "RTP/SAVPF" | "RTP/SAVP" if has_crypto => {
            return Err(SdpError::UnsupportedProfile(format!(
                "{what} uses {} with SDES (a=crypto) and no DTLS fingerprint; sipwire supports only DTLS-SRTP (UDP/TLS/RTP/SAVPF)",
                audio.proto
            )))
        }
        _ if fps.is_empty() => {
            return Err(SdpError::UnsupportedProfile(format!(
                "{what} uses {} without a DTLS fingerprint; sipwire supports only DTLS-SRTP (UDP/TLS/RTP/SAVPF)",
                audio.proto
            )))
        }
        _ => {
            return Err(SdpError::UnsupportedProfile(format!(
                "{what} uses {} for audio; sipwire supports only DTLS-SRTP (UDP/TLS/RTP/SAVPF)",
                audio.proto
            )))
        }
    };
    // RFC 8122: any of sha-1/224/256/384/512; crate::fingerprint verifies
    // (rtc itself knows only sha-256). Unknown hashes and malformed values
    // are ignored, as long as one usable fingerprint remains.
    let usable: Vec<Fingerprint> = fps
        .iter()
        .filter_map(|(alg, hex)| Fingerprint::parse(&format!("{alg} {hex}")))
        .fold(Vec::new(), |mut v, f| {
            if !v.contains(&f) {
                v.push(f);
            }
            v
        });
    if usable.is_empty() {
        let list: Vec<String> = fps.iter().map(|(a, h)| format!("{a} {h}")).collect();
        return Err(SdpError::UnsupportedProfile(format!(
            "{what} has no usable DTLS fingerprint ({}); sipwire accepts sha-1, sha-224, sha-256, sha-384 and sha-512 with a digest of the right length",
            list.join(", ")
        )));
    }
    Ok((new_proto, usable))
}

/// Keep only the `a=extmap` lines rtc can use (RFC 8285: id 1-255, an
/// optional known direction, a URI); browsers ignore the others, and so do
/// we, with a warning. rtc's own parser decides, so the two cannot disagree.
fn filter_extmaps(audio: &mut MediaSection, warnings: &mut Vec<String>) {
    let mut ignored = 0usize;
    audio.lines.retain(|l| {
        if !l.is_attr("extmap") {
            return true;
        }
        let mut reader = std::io::Cursor::new(l.value.as_bytes());
        let why = match rtc::sdp::extmap::ExtMap::unmarshal(&mut reader) {
            Ok(e) if e.uri.is_some() => return true,
            Ok(_) => "no URI".to_string(),
            Err(e) => e.to_string(),
        };
        ignored += 1;
        if ignored <= limits::MAX_SKIP_WARNINGS {
            let mut shown = l.value.clone();
            if shown.len() > 120 {
                let cut = (0..=120)
                    .rev()
                    .find(|&i| shown.is_char_boundary(i))
                    .unwrap_or(0);
                shown.truncate(cut);
                shown.push_str("...");
            }
            warnings.push(coded(
                limits::WARN_EXTMAP_IGNORED,
                format!("ignored a={shown}: {why}"),
            ));
        }
        false
    });
    if ignored > limits::MAX_SKIP_WARNINGS {
        warnings.push(coded(
            limits::WARN_EXTMAP_IGNORED,
            format!(
                "ignored {} more unusable a=extmap lines",
                ignored - limits::MAX_SKIP_WARNINGS
            ),
        ));
    }
}

struct CodecInfo {
    name: String,
    rate: u32,
    channels: Option<u16>,
}

fn parse_rtpmap(value: &str) -> Option<(u8, CodecInfo)> {
    let (pt, enc) = value.trim().split_once(char::is_whitespace)?;
    let pt: u8 = pt.parse().ok()?;
    let mut parts = enc.trim().split('/');
    let name = parts.next()?.trim().to_string();
    let rate: u32 = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    Some((
        pt,
        CodecInfo {
            name,
            rate,
            channels,
        },
    ))
}

/// Canonical (name, rate, channels) if sipwire supports the codec.
fn supported(c: &CodecInfo) -> Option<(&'static str, u32, u16)> {
    let ch = c.channels.unwrap_or(1);
    match (c.name.to_ascii_lowercase().as_str(), c.rate) {
        ("opus", 48000) if matches!(c.channels, None | Some(2)) => Some(("opus", 48000, 2)),
        ("pcmu", 8000) if ch == 1 => Some(("PCMU", 8000, 1)),
        ("pcma", 8000) if ch == 1 => Some(("PCMA", 8000, 1)),
        // RFC 3551 §4.5.2: G.722's RTP clock is 8000 Hz, its audio 16 kHz.
        ("g722", 8000) if ch == 1 => Some(("G722", 8000, 1)),
        ("g729", 8000) if ch == 1 => Some(("G729", 8000, 1)),
        ("telephone-event", r @ (8000 | 48000)) if ch == 1 => Some(("telephone-event", r, 1)),
        _ => None,
    }
}

/// The payload type an rtpmap/fmtp/rtcp-fb value refers to (`None` for `*`
/// or garbage).
fn pt_of(value: &str) -> Option<&str> {
    value.split_whitespace().next()
}

fn filter_codecs(audio: &mut MediaSection, what: &str) -> Result<Vec<RemoteCodec>, SdpError> {
    let mut maps: HashMap<u8, CodecInfo> = HashMap::new();
    for v in audio.attrs("rtpmap") {
        if let Some((pt, info)) = parse_rtpmap(v) {
            maps.entry(pt).or_insert(info);
        }
    }
    let mut offered: Vec<String> = Vec::new();
    let mut kept: Vec<(u8, &'static str, u32, u16)> = Vec::new();
    let mut seen: Vec<u8> = Vec::new();
    for f in &audio.fmts {
        let Ok(pt) = f.parse::<u8>() else {
            offered.push(f.clone());
            continue;
        };
        if seen.contains(&pt) {
            continue;
        }
        seen.push(pt);
        let info = maps.get(&pt).map(|c| CodecInfo {
            name: c.name.clone(),
            rate: c.rate,
            channels: c.channels,
        });
        let info = info.or_else(|| {
            static_payload(pt).map(|(n, r, c)| CodecInfo {
                name: n.to_string(),
                rate: r,
                channels: (c != 1).then_some(c),
            })
        });
        let Some(info) = info else {
            offered.push(format!("PT {pt} (no rtpmap)"));
            continue;
        };
        offered.push(match info.channels {
            Some(c) => format!("{}/{}/{c}", info.name, info.rate),
            None => format!("{}/{}", info.name, info.rate),
        });
        if let Some((n, r, c)) = supported(&info) {
            kept.push((pt, n, r, c));
        }
    }
    if !kept.iter().any(|k| k.1 != "telephone-event") {
        let list = if offered.is_empty() {
            "no payload types".to_string()
        } else {
            offered.join(", ")
        };
        return Err(SdpError::NoCommonCodec(format!(
            "no common audio codec: {what} has {list}; sipwire supports opus/48000/2, G722/8000, PCMU/8000, PCMA/8000, G729/8000"
        )));
    }
    let keep_pt = |v: &str| -> bool {
        match pt_of(v) {
            Some("*") => true,
            Some(p) => p.parse::<u8>().is_ok_and(|p| kept.iter().any(|k| k.0 == p)),
            None => false,
        }
    };
    // Drop lines for removed payload types; rtpmap lines are re-added canonically.
    audio.lines.retain(|l| match l.attr_key() {
        Some("rtpmap") => false,
        Some("fmtp") | Some("rtcp-fb") => l.attr_value().is_some_and(keep_pt),
        _ => true,
    });
    // Normalise fmtp parameters.
    for l in audio.lines.iter_mut() {
        if l.is_attr("fmtp") {
            let v = l.attr_value().unwrap_or("").trim();
            let (pt, params) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            l.value = format!("fmtp:{pt} {}", normalize_fmtp_params(params));
        }
    }
    audio.fmts = kept.iter().map(|k| k.0.to_string()).collect();
    let mut codecs = Vec::new();
    for &(pt, name, rate, ch) in &kept {
        let enc = if name == "opus" {
            format!("{name}/{rate}/{ch}")
        } else {
            format!("{name}/{rate}")
        };
        audio.push_attr("rtpmap", Some(&format!("{pt} {enc}")));
        let fmtp = audio
            .attrs("fmtp")
            .into_iter()
            .find(|v| pt_of(v) == Some(&pt.to_string()))
            .map(|v| v.split_once(' ').map_or("", |(_, p)| p).to_string())
            .filter(|p| !p.is_empty());
        codecs.push(RemoteCodec {
            pt,
            name: name.to_string(),
            clock_rate: rate,
            channels: ch,
            fmtp,
        });
    }
    Ok(codecs)
}

/// Normalise a remote SDP so rtc 0.21 accepts it, keeping only the first
/// active audio section. See [`crate::sdp`] for the rules.
///
/// # Errors
/// [`SdpError::Parse`] if the text is not SDP, has no m-line, a malformed
/// m=/c=/o= line, or no ICE credentials; [`SdpError::NoAudio`] if no audio
/// section has a non-zero port; [`SdpError::UnsupportedProfile`] if audio is
/// not DTLS-SRTP; [`SdpError::NoCommonCodec`] if no opus/G722/PCMU/PCMA/G729 is offered.
pub fn normalize_remote(sdp: &str, kind: SdpKind) -> Result<RemoteSdp, SdpError> {
    normalize_remote_with(sdp, kind, None)
}

/// [`normalize_remote`], also keeping the first active video section after
/// the audio one when `video` lists codecs and the section is bundled with
/// audio and offers one of them (see [`crate::video::sdp`]). A video
/// section not kept is rejected like any other.
pub fn normalize_remote_with(
    sdp: &str,
    kind: SdpKind,
    video: Option<&[crate::video::VideoCodec]>,
) -> Result<RemoteSdp, SdpError> {
    let what = kind.as_str();
    limits::check_size(sdp, what)?;
    let mut doc = Sdp::parse(sdp)?;
    if doc.media.is_empty() {
        return Err(SdpError::Parse(format!("{what} has no m= line")));
    }
    limits::check_sections(doc.media.len(), what)?;
    limits::check_lines(doc.session.len(), "session level", what)?;
    let mut warnings = Vec::new();
    normalize_session(&mut doc)?;
    for l in doc.media.iter().flat_map(|m| m.lines.iter()) {
        if l.typ == 'c' {
            check_connection(&l.value)?;
        }
    }
    let Some(audio_index) = doc
        .media
        .iter()
        .position(|m| m.media.eq_ignore_ascii_case("audio") && m.port_number() != 0)
    else {
        let list: Vec<String> = doc
            .media
            .iter()
            .map(|m| format!("{} port {}", m.media, m.port))
            .collect();
        return Err(SdpError::NoAudio(format!(
            "{what} has no active audio section (m-lines: {})",
            list.join(", ")
        )));
    };

    let mut rejected_sections = Vec::new();
    let mut audio = None;
    let video_index = video.and_then(|_| {
        crate::video::sdp::bundled_video_index(&doc.session, &doc.media, audio_index)
    });
    let mut video_section = None;
    for (index, m) in std::mem::take(&mut doc.media).into_iter().enumerate() {
        let kept = match video {
            Some(codecs) if Some(index) == video_index => {
                let mut cut = m.clone();
                let payloads = crate::video::sdp::filter_section(&mut cut, codecs);
                (!payloads.is_empty()).then_some((index, cut, payloads))
            }
            _ => None,
        };
        if index == audio_index {
            audio = Some(m);
        } else if let Some(k) = kept {
            video_section = Some(k);
        } else {
            rejected_sections.push(RejectedSection {
                index,
                mid: m.attr("mid").map(str::to_string),
                fmt: m.fmts.join(" "),
                media: m.media,
                proto: m.proto,
            });
        }
    }
    let Some(mut audio) = audio else {
        return Err(SdpError::NoAudio(format!("{what} has no audio section")));
    };
    // Candidates are capped on their own (dropped, not refused).
    let lines = audio
        .lines
        .iter()
        .filter(|l| !l.is_attr("candidate"))
        .count();
    limits::check_lines(lines, "audio section", what)?;
    let audio_proto = audio.proto.clone();

    // Profile + fingerprint: rtc wants exactly one value (it only parses it;
    // the check is ours), the strongest.
    let (proto, fingerprints) = check_profile(&doc.session, &audio, what)?;
    audio.proto = proto;
    doc.session.remove_attrs("fingerprint");
    if let Some(best) = fingerprints.iter().max_by_key(|f| f.alg) {
        audio.set_attr("fingerprint", Some(&best.to_attr_value()));
    }
    audio.remove_attrs("crypto");
    filter_extmaps(&mut audio, &mut warnings);

    // Media-level line hygiene: drop k=, unknown types, bad b=.
    audio.lines.retain(|l| match l.typ {
        'a' | 'i' | 'c' => true,
        'b' => valid_bandwidth(&l.value),
        _ => false,
    });
    let mut first_c = true;
    audio.lines.retain(|l| {
        if l.typ != 'c' {
            return true;
        }
        std::mem::replace(&mut first_c, false)
    });

    // Codecs.
    let codecs = filter_codecs(&mut audio, what)?;
    let mut telephone_event_rates = Vec::new();
    for c in &codecs {
        if c.name == "telephone-event" && !telephone_event_rates.contains(&c.clock_rate) {
            telephone_event_rates.push(c.clock_rate);
        }
    }

    // ICE credentials: media wins; put them at media level only.
    let ufrag = audio
        .attr("ice-ufrag")
        .or_else(|| doc.session.attr("ice-ufrag"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let pwd = audio
        .attr("ice-pwd")
        .or_else(|| doc.session.attr("ice-pwd"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let (Some(ice_ufrag), Some(ice_pwd)) = (ufrag, pwd) else {
        return Err(SdpError::Parse(format!(
            "{what} has no ICE credentials (a=ice-ufrag/a=ice-pwd)"
        )));
    };
    doc.session.remove_attrs("ice-ufrag");
    doc.session.remove_attrs("ice-pwd");
    audio.set_attr("ice-ufrag", Some(&ice_ufrag));
    audio.set_attr("ice-pwd", Some(&ice_pwd));

    // mid + BUNDLE.
    let had_mid = audio.attr("mid").is_some_and(|m| !m.trim().is_empty());
    let mid = if had_mid {
        audio.attr("mid").unwrap_or("0").trim().to_string()
    } else {
        "0".to_string()
    };
    audio.set_attr("mid", Some(&mid));
    let had_bundle = doc
        .session
        .attrs("group")
        .iter()
        .any(|g| g.trim_start().to_ascii_uppercase().starts_with("BUNDLE"));
    doc.session.remove_attrs("group");
    doc.session
        .push_attr("group", Some(&format!("BUNDLE {mid}")));

    // Direction.
    let media_dir = audio
        .lines
        .iter()
        .filter_map(|l| l.attr_key().and_then(Direction::parse))
        .next();
    let session_dir = doc
        .session
        .iter()
        .filter_map(|l| l.attr_key().and_then(Direction::parse))
        .next();
    let direction = media_dir.or(session_dir).unwrap_or(Direction::SendRecv);
    for d in DIRECTIONS {
        doc.session.remove_attrs(d);
    }
    audio
        .lines
        .retain(|l| l.attr_key().is_none_or(|k| Direction::parse(k).is_none()));
    audio.push_attr(direction.as_str(), None);

    // Setup: rtc reads it only at media level and compares lowercase.
    let setup_raw = audio
        .attr("setup")
        .or_else(|| doc.session.attr("setup"))
        .map(|s| s.trim().to_ascii_lowercase());
    doc.session.remove_attrs("setup");
    let setup = setup_raw.as_deref().and_then(Setup::parse);
    match &setup_raw {
        Some(s) => audio.set_attr("setup", Some(s)),
        None => {
            audio.remove_attrs("setup");
        }
    }

    // Candidates.
    let mut skipped_candidates = Vec::new();
    for v in doc.session.attrs("candidate") {
        skipped_candidates.push((format!("a=candidate:{v}"), "session-level"));
    }
    doc.session.remove_attrs("candidate");
    let eoc = doc.session.remove_attrs("end-of-candidates") > 0;
    let mut new_lines = Vec::with_capacity(audio.lines.len());
    let mut kept_candidates = 0usize;
    let mut dropped_candidates = 0usize;
    for l in std::mem::take(&mut audio.lines) {
        if l.is_attr("candidate") {
            if kept_candidates >= limits::MAX_REMOTE_CANDIDATES {
                // Not even parsed: the limit bounds all later work.
                dropped_candidates += 1;
                continue;
            }
            let v = l.attr_value().unwrap_or("");
            match normalize_candidate(v) {
                Ok(c) => {
                    kept_candidates += 1;
                    new_lines.push(SdpLine::attr("candidate", Some(&c)));
                }
                Err(reason) => skipped_candidates.push((format!("a={}", l.value), reason)),
            }
        } else {
            new_lines.push(l);
        }
    }
    audio.lines = new_lines;
    for (line, reason) in skipped_candidates.iter().take(limits::MAX_SKIP_WARNINGS) {
        warnings.push(coded(
            limits::WARN_CANDIDATE_SKIPPED,
            format!(
                "skipped remote candidate ({reason}): {}",
                line.trim_start_matches("a=")
            ),
        ));
    }
    if skipped_candidates.len() > limits::MAX_SKIP_WARNINGS {
        warnings.push(coded(
            limits::WARN_CANDIDATE_SKIPPED,
            format!(
                "skipped {} more remote candidates",
                skipped_candidates.len() - limits::MAX_SKIP_WARNINGS
            ),
        ));
    }
    if dropped_candidates > 0 {
        warnings.push(coded(
            limits::WARN_CANDIDATE_LIMIT,
            format!(
                "dropped {dropped_candidates} remote candidates beyond the first {} usable ones",
                limits::MAX_REMOTE_CANDIDATES
            ),
        ));
    }
    if eoc && !audio.has_attr("end-of-candidates") {
        audio.push_attr("end-of-candidates", None);
    }

    // rtcp-mux.
    if !audio.has_attr("rtcp-mux") {
        audio.push_attr("rtcp-mux", None);
    }

    let connection_addr = audio
        .connection()
        .or_else(|| doc.session_line('c'))
        .and_then(connection_address);
    let audio_port = audio.port_number();
    let mut kept_video = None;
    if let Some((index, mut m, payloads)) = video_section {
        let vmid = m.attr("mid").map(|v| v.trim().to_string());
        match vmid.filter(|v| !v.is_empty() && *v != mid) {
            Some(vmid) => {
                limits::check_lines(m.lines.len(), "video section", what)?;
                let direction = crate::video::sdp::finish_section(&mut m, &audio);
                doc.session.remove_attrs("group");
                doc.session
                    .push_attr("group", Some(&format!("BUNDLE {mid} {vmid}")));
                kept_video = Some((
                    m,
                    crate::video::sdp::RemoteVideo {
                        index,
                        mid: vmid,
                        payloads,
                        direction,
                    },
                ));
            }
            None => rejected_sections.push(RejectedSection {
                index,
                mid: None,
                fmt: m.fmts.join(" "),
                media: m.media,
                proto: m.proto,
            }),
        }
    }
    rejected_sections.sort_by_key(|r| r.index);
    doc.media.push(audio);
    let video = kept_video.map(|(m, v)| {
        doc.media.push(m);
        v
    });

    Ok(RemoteSdp {
        sdp: doc.to_sdp_string(),
        audio_index,
        mid,
        codecs,
        telephone_event_rates,
        direction,
        setup,
        ice_ufrag,
        ice_pwd,
        had_bundle,
        had_mid,
        audio_proto,
        rejected_sections,
        skipped_candidates,
        connection_addr,
        audio_port,
        fingerprints,
        dropped_candidates,
        warnings,
        video,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const CHROME: &str = include_str!("../../tests/fixtures/sdp/chrome_offer.sdp");
    const FIREFOX: &str = include_str!("../../tests/fixtures/sdp/firefox_offer.sdp");
    const ASTERISK: &str = include_str!("../../tests/fixtures/sdp/asterisk_offer.sdp");
    const FREESWITCH: &str = include_str!("../../tests/fixtures/sdp/freeswitch_offer.sdp");
    const RTPENGINE: &str = include_str!("../../tests/fixtures/sdp/rtpengine_offer.sdp");

    const FP: &str = "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F";

    /// A minimal valid offer with `extra` media lines appended to the audio section.
    fn offer(m_line: &str, extra: &[&str]) -> String {
        let mut s = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n{m_line}\r\nc=IN IP4 127.0.0.1\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n{FP}\r\na=setup:actpass\r\n"
        );
        for e in extra {
            s.push_str(e);
            s.push_str("\r\n");
        }
        s
    }

    /// Parse with rtc's own SDP parser and apply the checks rtc applies in
    /// set_remote_description (fingerprint, ICE details, candidates, codecs).
    pub(crate) fn assert_rtc_accepts(sdp: &str) -> rtc::sdp::SessionDescription {
        let mut cur = std::io::Cursor::new(sdp.as_bytes());
        let desc = rtc::sdp::SessionDescription::unmarshal(&mut cur)
            .unwrap_or_else(|e| panic!("rtc rejected SDP: {e:?}\n{sdp}"));
        assert!(sdp.ends_with("\r\n"));
        assert!(!sdp.contains("\r\n\r\n") && !sdp.replace("\r\n", "").contains('\n'));
        // fingerprint: identical everywhere, "<alg> <hex>", an RFC 8122 hash
        let mut fps: Vec<String> = desc.attribute("fingerprint").cloned().into_iter().collect();
        for m in &desc.media_descriptions {
            if let Some(Some(f)) = m.attribute("fingerprint") {
                fps.push(f.to_string());
            }
        }
        if !fps.is_empty() {
            assert!(fps.iter().all(|f| f == &fps[0]), "conflicting fingerprints");
            let parts: Vec<&str> = fps[0].split(' ').collect();
            assert_eq!(parts.len(), 2);
            assert!(
                crate::fingerprint::Fingerprint::parse(&fps[0]).is_some(),
                "{}",
                fps[0]
            );
        }
        for m in &desc.media_descriptions {
            if m.media_name.port.value == 0 {
                continue;
            }
            for a in &m.attributes {
                if a.key == "candidate" {
                    let v = a.value.clone().unwrap_or_default();
                    let c = rtc::ice::candidate::unmarshal_candidate(&v)
                        .unwrap_or_else(|e| panic!("rtc rejected candidate {v}: {e:?}"));
                    assert_ne!(c.addr().port(), 0);
                }
            }
            for f in &m.media_name.formats {
                let pt: u8 = f.parse().expect("numeric pt");
                let s = rtc::sdp::SessionDescription {
                    media_descriptions: vec![m.clone()],
                    ..Default::default()
                };
                s.get_codec_for_payload_type(pt)
                    .unwrap_or_else(|e| panic!("no codec for pt {pt}: {e:?}"));
            }
        }
        desc
    }

    fn names(r: &RemoteSdp) -> Vec<String> {
        r.codecs
            .iter()
            .map(|c| format!("{}:{}/{}", c.pt, c.name, c.clock_rate))
            .collect()
    }

    #[test]
    fn chrome_offer() {
        let r = normalize_remote(CHROME, SdpKind::Offer).unwrap();
        let d = assert_rtc_accepts(&r.sdp);
        assert_eq!(d.media_descriptions.len(), 1);
        assert_eq!(r.audio_index, 0);
        assert_eq!(r.mid, "0");
        assert!(r.had_bundle && r.had_mid);
        assert_eq!(
            names(&r),
            vec![
                "111:opus/48000",
                "9:G722/8000",
                "0:PCMU/8000",
                "8:PCMA/8000",
                "110:telephone-event/48000",
                "126:telephone-event/8000"
            ]
        );
        assert_eq!(r.codecs[0].channels, 2);
        assert_eq!(
            r.codecs[0].fmtp.as_deref(),
            Some("minptime=10;useinbandfec=1")
        );
        assert_eq!(r.telephone_event_rates, vec![48000, 8000]);
        assert!(r
            .sdp
            .contains("m=audio 51234 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126\r\n"));
        assert!(r.sdp.contains("a=group:BUNDLE 0\r\n"));
        assert!(r.sdp.contains("a=rtcp-fb:111 transport-cc\r\n"));
        assert!(r
            .sdp
            .contains("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
        assert!(r.sdp.contains("a=ssrc:1001 cname:abcd"));
        assert!(
            !r.sdp.contains("red/48000") && !r.sdp.contains("fmtp:63") && !r.sdp.contains("CN/")
        );
        assert_eq!(r.rejected_sections.len(), 1);
        let rej = &r.rejected_sections[0];
        assert_eq!(
            (rej.index, rej.media.as_str(), rej.fmt.as_str()),
            (1, "video", "96 97")
        );
        assert_eq!(rej.mid.as_deref(), Some("1"));
        assert_eq!(r.direction, Direction::SendRecv);
        assert_eq!(r.setup, Some(Setup::ActPass));
        assert_eq!(r.ice_ufrag, "EsAw");
        assert_eq!(r.connection_addr.as_deref(), Some("203.0.113.7"));
        assert_eq!(r.audio_port, 51234);
        let reasons: Vec<&str> = r.skipped_candidates.iter().map(|s| s.1).collect();
        assert_eq!(reasons, vec!["mdns", "tcp"]);
    }

    #[test]
    fn firefox_offer() {
        let r = normalize_remote(FIREFOX, SdpKind::Offer).unwrap();
        assert_rtc_accepts(&r.sdp);
        // LF-only input -> CRLF; session fingerprint lowercased, moved to media
        assert!(r.sdp.contains("a=fingerprint:sha-256 7B:3F:18"));
        assert!(!r.sdp.contains("SHA-256"));
        assert_eq!(r.sdp.matches("a=fingerprint").count(), 1);
        assert_eq!(
            names(&r),
            vec![
                "109:opus/48000",
                "9:G722/8000",
                "0:PCMU/8000",
                "8:PCMA/8000",
                "101:telephone-event/8000"
            ]
        );
        assert!(r.sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"));
        assert!(r.sdp.contains("a=end-of-candidates\r\n"));
        assert!(r
            .sdp
            .contains("a=candidate:1 1 udp 2122187007 10.0.0.5 55001 typ host\r\n"));
        assert_eq!(r.skipped_candidates.len(), 2);
    }

    #[test]
    fn asterisk_offer() {
        let r = normalize_remote(ASTERISK, SdpKind::Offer).unwrap();
        assert_rtc_accepts(&r.sdp);
        assert!(!r.had_bundle && !r.had_mid);
        assert!(r.sdp.contains("a=mid:0\r\n") && r.sdp.contains("a=group:BUNDLE 0\r\n"));
        // static PTs get rtpmap lines, G722 (9) on its 8000 Hz RTP clock
        assert!(
            r.sdp.contains("a=rtpmap:0 PCMU/8000\r\n")
                && r.sdp.contains("a=rtpmap:8 PCMA/8000\r\n")
                && r.sdp.contains("a=rtpmap:9 G722/8000\r\n")
        );
        assert!(r
            .sdp
            .contains("m=audio 17432 UDP/TLS/RTP/SAVPF 0 8 9 101\r\n"));
        // alphanumeric foundation rewritten to a stable u32, component 2 dropped
        let f = fnv1a32("Hc6336414");
        assert!(r.sdp.contains(&format!(
            "a=candidate:{f} 1 udp 2130706431 198.51.100.20 17432 typ host\r\n"
        )));
        assert_eq!(r.skipped_candidates[0].1, "rtcp-component");
        assert_eq!(r.connection_addr.as_deref(), Some("198.51.100.20"));
        assert!(r.sdp.contains("c=IN IP4 198.51.100.20\r\n")); // session-level c= kept
        assert!(r.sdp.contains("a=setup:actpass"));
    }

    #[test]
    fn freeswitch_offer() {
        let r = normalize_remote(FREESWITCH, SdpKind::Offer).unwrap();
        let d = assert_rtc_accepts(&r.sdp);
        // session-level sendonly moved into the media section
        assert_eq!(r.direction, Direction::SendOnly);
        assert!(d.attribute("sendonly").is_none());
        assert!(d.media_descriptions[0].attribute("sendonly").is_some());
        assert!(r
            .sdp
            .contains("a=fmtp:111 useinbandfec=1;minptime=10;maxptime=40\r\n"));
        assert!(!r.had_mid);
        assert!(r.sdp.contains(
            "a=candidate:0560693492 1 udp 659136 192.0.2.10 24680 typ host generation 0\r\n"
        ));
        assert!(!r.sdp.contains("CN/8000"));
    }

    #[test]
    fn rtpengine_offer_with_old_datachannel() {
        // The raw offer breaks nothing in rtc's parser but we must strip the
        // old-style DTLS/SCTP section and keep an index to reject it.
        let r = normalize_remote(RTPENGINE, SdpKind::Offer).unwrap();
        let d = assert_rtc_accepts(&r.sdp);
        assert_eq!(d.media_descriptions.len(), 1);
        assert!(!r.had_bundle && !r.had_mid);
        assert_eq!(
            r.rejected_sections,
            vec![RejectedSection {
                index: 1,
                media: "application".into(),
                proto: "DTLS/SCTP".into(),
                fmt: "5000".into(),
                mid: None
            }]
        );
        assert!(r
            .sdp
            .contains("m=audio 30000 UDP/TLS/RTP/SAVP 96 0 8 97\r\n"));
        assert!(r.sdp.contains("b=AS:84\r\n") && r.sdp.contains("b=TIAS:64000\r\n"));
        assert!(r.sdp.contains("a=rtcp-mux\r\n"));
        assert_eq!(names(&r)[0], "96:opus/48000");
    }

    #[test]
    fn garbage_is_parse_error() {
        for g in [
            "",
            "hello",
            "INVITE sip:x SIP/2.0\r\n",
            "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n",
        ] {
            let e = normalize_remote(g, SdpKind::Offer).unwrap_err();
            assert_eq!(e.code(), "ERR_SDP_PARSE", "{g:?}: {e}");
        }
        let e = normalize_remote(
            &offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["c=IN IP4"]),
            SdpKind::Offer,
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_SDP_PARSE");
        let e = normalize_remote(
            "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n",
            SdpKind::Offer,
        )
        .unwrap_err();
        assert!(e.to_string().contains("m= line"), "{e}");
    }

    #[test]
    fn g729_only_offer_is_kept_with_its_fmtp() {
        let r = normalize_remote(
            &offer(
                "m=audio 4000 UDP/TLS/RTP/SAVPF 18 101",
                &["a=rtpmap:101 telephone-event/8000", "a=fmtp:18 annexb=no"],
            ),
            SdpKind::Offer,
        )
        .unwrap();
        assert_eq!(names(&r), vec!["18:G729/8000", "101:telephone-event/8000"]);
        assert_eq!(r.codecs[0].fmtp.as_deref(), Some("annexb=no"));
        // Static PT 9 without rtpmap is G.722 on its 8000 Hz RTP clock.
        let r = normalize_remote(
            &offer("m=audio 4000 UDP/TLS/RTP/SAVPF 9", &[]),
            SdpKind::Offer,
        )
        .unwrap();
        assert_eq!(names(&r), vec!["9:G722/8000"]);
        assert!(r.sdp.contains("a=rtpmap:9 G722/8000\r\n"));
    }

    #[test]
    fn unknown_codecs_only_is_no_common_codec() {
        let e = normalize_remote(
            &offer(
                "m=audio 4000 UDP/TLS/RTP/SAVPF 96 101",
                &["a=rtpmap:96 AMR/8000", "a=rtpmap:101 telephone-event/8000"],
            ),
            SdpKind::Offer,
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_NO_COMMON_CODEC");
        assert_eq!(
            e.to_string(),
            "no common audio codec: offer has AMR/8000, telephone-event/8000; sipwire supports opus/48000/2, G722/8000, PCMU/8000, PCMA/8000, G729/8000"
        );
    }

    #[test]
    fn rtp_avp_without_fingerprint_is_unsupported() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
        let e = normalize_remote(sdp, SdpKind::Offer).unwrap_err();
        assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
        assert_eq!(
            e.to_string(),
            "offer uses RTP/AVP without a DTLS fingerprint; sipwire supports only DTLS-SRTP (UDP/TLS/RTP/SAVPF)"
        );
        let sdes = sdp.replace("RTP/AVP", "RTP/SAVP") + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
        let e = normalize_remote(&sdes, SdpKind::Answer).unwrap_err();
        assert!(
            e.to_string().starts_with("answer uses RTP/SAVP with SDES"),
            "{e}"
        );
        // fingerprint but plain RTP/AVP: still unsupported
        let e = normalize_remote(&offer("m=audio 1 RTP/AVP 0", &[]), SdpKind::Offer).unwrap_err();
        assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
        // UDP/TLS but no fingerprint anywhere
        let no_fp = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]).replace(FP, "");
        assert_eq!(
            normalize_remote(&no_fp, SdpKind::Offer).unwrap_err().code(),
            "ERR_UNSUPPORTED_PROFILE"
        );
    }

    #[test]
    fn legacy_rtp_savpf_with_fingerprint_is_rewritten() {
        let r = normalize_remote(
            &offer(
                "m=audio 1 RTP/SAVPF 0",
                &["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x"],
            ),
            SdpKind::Offer,
        )
        .unwrap();
        assert_rtc_accepts(&r.sdp);
        assert_eq!(r.audio_proto, "RTP/SAVPF");
        assert!(r.sdp.contains("m=audio 1 UDP/TLS/RTP/SAVPF 0\r\n"));
        assert!(!r.sdp.contains("a=crypto"));
    }

    #[test]
    fn any_rfc8122_fingerprint_is_kept_and_the_strongest_goes_to_rtc() {
        let sha1 =
            "a=fingerprint:SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB";
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]).replace(FP, sha1);
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert_rtc_accepts(&r.sdp);
        assert_eq!(r.fingerprints.len(), 1);
        assert!(r.sdp.contains("a=fingerprint:sha-1 4A:AD"));
        // both: sha-1 first at session level, SHA-256 at media; double space
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[])
            .replace("t=0 0\r\n", &format!("t=0 0\r\n{sha1}\r\n"))
            .replace("sha-256 ", "SHA-256  ");
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert_rtc_accepts(&r.sdp);
        assert_eq!(r.sdp.matches("a=fingerprint:").count(), 1);
        assert!(r.sdp.contains("a=fingerprint:sha-256 D2:FA"));
        assert_eq!(r.fingerprints.len(), 2);
        // md5, an unknown hash, or a wrong length: nothing usable.
        for bad in [
            "a=fingerprint:md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B",
            "a=fingerprint:sha-3 4A:AD",
            "a=fingerprint:sha-1 4A:AD:B9",
        ] {
            let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]).replace(FP, bad);
            let e = normalize_remote(&s, SdpKind::Offer).unwrap_err();
            assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE", "{bad}");
            assert!(e.to_string().contains("no usable DTLS fingerprint"), "{e}");
        }
    }

    #[test]
    fn no_audio() {
        let s = offer("m=video 1 UDP/TLS/RTP/SAVPF 96", &["a=rtpmap:96 VP8/90000"]);
        assert_eq!(
            normalize_remote(&s, SdpKind::Offer).unwrap_err().code(),
            "ERR_NO_AUDIO"
        );
        let s = offer("m=audio 0 UDP/TLS/RTP/SAVPF 0", &[]);
        assert_eq!(
            normalize_remote(&s, SdpKind::Answer).unwrap_err().code(),
            "ERR_NO_AUDIO"
        );
    }

    #[test]
    fn second_audio_and_port_zero_sections_rejected() {
        let s = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n".to_string()
            + FP
            + "\r\nm=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:a0\r\nm=audio 5 UDP/TLS/RTP/SAVPF 8\r\na=mid:a1\r\nm=audio 6 UDP/TLS/RTP/SAVPF 0\r\na=mid:a2\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:dc\r\n";
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert_rtc_accepts(&r.sdp);
        assert_eq!(r.audio_index, 1);
        assert_eq!(r.mid, "a1");
        let idx: Vec<usize> = r.rejected_sections.iter().map(|x| x.index).collect();
        assert_eq!(idx, vec![0, 2, 3]);
        assert_eq!(r.rejected_sections[2].fmt, "webrtc-datachannel");
        assert!(r.sdp.contains("a=group:BUNDLE a1\r\n"));
    }

    #[test]
    fn bundle_group_rewritten() {
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["a=mid:audio"]).replace(
            "t=0 0\r\n",
            "t=0 0\r\na=group:BUNDLE audio video\r\na=group:LS audio video\r\n",
        );
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert!(r.had_bundle && r.had_mid);
        assert_eq!(r.sdp.matches("a=group:").count(), 1);
        assert!(r.sdp.contains("a=group:BUNDLE audio\r\n"));
    }

    #[test]
    fn static_payloads_get_rtpmap() {
        let r = normalize_remote(
            &offer("m=audio 1 UDP/TLS/RTP/SAVPF 0 8 3 9 18 13", &[]),
            SdpKind::Offer,
        )
        .unwrap();
        assert_rtc_accepts(&r.sdp);
        // GSM (3) and CN (13) are dropped; G722 (9) and G729 (18) kept.
        assert!(r.sdp.contains("m=audio 1 UDP/TLS/RTP/SAVPF 0 8 9 18\r\n"));
        assert!(
            r.sdp.contains("a=rtpmap:0 PCMU/8000\r\n")
                && r.sdp.contains("a=rtpmap:8 PCMA/8000\r\n")
        );
        assert_eq!(static_payload(9), Some(("G722", 8000, 1)));
        assert_eq!(static_payload(18), Some(("G729", 8000, 1)));
        assert_eq!(static_payload(96), None);
    }

    #[test]
    fn unsupported_pts_removed_with_their_lines() {
        let r = normalize_remote(
            &offer(
                "m=audio 1 UDP/TLS/RTP/SAVPF 96 97 0 abc 98",
                &[
                    "a=rtpmap:96 opus/48000",
                    "a=rtpmap:97 iLBC/8000",
                    "a=fmtp:97 mode=30",
                    "a=rtcp-fb:97 nack",
                    "a=rtcp-fb:96 transport-cc",
                    "a=rtcp-fb:* ccm fir",
                    "a=rtpmap:99 PCMU/8000",
                ],
            ),
            SdpKind::Offer,
        )
        .unwrap();
        assert_rtc_accepts(&r.sdp);
        assert!(r.sdp.contains("m=audio 1 UDP/TLS/RTP/SAVPF 96 0\r\n"));
        assert!(r.sdp.contains("a=rtpmap:96 opus/48000/2\r\n"));
        assert!(
            r.sdp.contains("a=rtcp-fb:96 transport-cc\r\n")
                && r.sdp.contains("a=rtcp-fb:* ccm fir\r\n")
        );
        assert!(!r.sdp.contains("iLBC") && !r.sdp.contains(":97") && !r.sdp.contains(":99"));
    }

    #[test]
    fn direction_defaults_and_moves() {
        let r =
            normalize_remote(&offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]), SdpKind::Offer).unwrap();
        assert_eq!(r.direction, Direction::SendRecv);
        assert!(r.sdp.contains("a=sendrecv\r\n"));
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["a=inactive"])
            .replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert_eq!(r.direction, Direction::Inactive);
        assert_eq!(
            r.sdp.matches("a=sendonly").count() + r.sdp.matches("a=inactive").count(),
            1
        );
    }

    #[test]
    fn candidates() {
        assert_eq!(
            normalize_candidate("abc 1 UDP 1 1.2.3.4 5 typ host").unwrap(),
            format!("{} 1 udp 1 1.2.3.4 5 typ host", fnv1a32("abc"))
        );
        assert_eq!(
            normalize_candidate("4294967296 1 udp 1 1.2.3.4 5 typ host").unwrap(),
            format!("{} 1 udp 1 1.2.3.4 5 typ host", fnv1a32("4294967296"))
        );
        assert_eq!(
            normalize_candidate("1 1 udp 1 x.local 5 typ host"),
            Err("mdns")
        );
        assert_eq!(
            normalize_candidate("1 1 tcp 1 1.2.3.4 5 typ host tcptype passive"),
            Err("tcp")
        );
        assert_eq!(
            normalize_candidate("1 1 udp 1 1.2.3.4 0 typ host"),
            Err("port-zero")
        );
        assert_eq!(
            normalize_candidate("1 1 udp 1 pbx.example.com 5 typ host"),
            Err("hostname")
        );
        assert_eq!(
            normalize_candidate("1 1 udp 1 1.2.3.4 5 typ weird"),
            Err("unknown-type")
        );
        assert_eq!(
            normalize_candidate("1 1 udp 99999999999 1.2.3.4 5 typ host"),
            Err("priority")
        );
        assert_eq!(
            normalize_candidate("1 1 udp 1 1.2.3.4 5 typ srflx raddr"),
            Err("malformed")
        );
        assert_eq!(normalize_candidate("1 1 udp"), Err("malformed"));
        let ok = normalize_candidate(
            "1 1 udp 1 2001:db8::1 5 typ relay raddr 1.2.3.4 rport 9 generation 0",
        )
        .unwrap();
        rtc::ice::candidate::unmarshal_candidate(&ok).unwrap();
        let s = offer(
            "m=audio 1 UDP/TLS/RTP/SAVPF 0",
            &[
                "a=candidate:port0 1 udp 1 1.2.3.4 0 typ host",
                "a=end-of-candidates",
            ],
        );
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert_eq!(
            r.skipped_candidates,
            vec![(
                "a=candidate:port0 1 udp 1 1.2.3.4 0 typ host".to_string(),
                "port-zero"
            )]
        );
        assert!(r.sdp.contains("a=end-of-candidates\r\n"));
    }

    #[test]
    fn fmtp_spaces_removed() {
        assert_eq!(
            normalize_fmtp_params("minptime=10; useinbandfec=1"),
            "minptime=10;useinbandfec=1"
        );
        assert_eq!(normalize_fmtp_params(" a = 1 ;; b=2 "), "a=1;b=2");
        assert_eq!(normalize_fmtp_params("0-16"), "0-16");
    }

    #[test]
    fn rtcp_mux_added_once() {
        let r =
            normalize_remote(&offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]), SdpKind::Offer).unwrap();
        assert_eq!(r.sdp.matches("a=rtcp-mux\r\n").count(), 1);
        let r = normalize_remote(
            &offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["a=rtcp-mux"]),
            SdpKind::Offer,
        )
        .unwrap();
        assert_eq!(r.sdp.matches("a=rtcp-mux\r\n").count(), 1);
    }

    #[test]
    fn ice_credentials() {
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[])
            .replace(
                "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n",
                "",
            )
            .replace(
                "t=0 0\r\n",
                "t=0 0\r\na=ice-ufrag:sess\r\na=ice-pwd:sessionpassword0123456\r\n",
            );
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        let d = assert_rtc_accepts(&r.sdp);
        assert_eq!(r.ice_ufrag, "sess");
        assert!(d.attribute("ice-ufrag").is_none());
        assert_eq!(
            d.media_descriptions[0].attribute("ice-ufrag"),
            Some(Some("sess"))
        );
        let none = s.replace(
            "a=ice-ufrag:sess\r\na=ice-pwd:sessionpassword0123456\r\n",
            "",
        );
        let e = normalize_remote(&none, SdpKind::Offer).unwrap_err();
        assert_eq!(e.code(), "ERR_SDP_PARSE");
        assert!(e.to_string().contains("no ICE credentials"));
    }

    #[test]
    fn mixed_line_ends_and_odd_session_lines() {
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["k=prompt", "b=AS:x"])
            .replace("\r\n", "\n")
            .replace("s=-\n", "s=-  \r\nu=not a url\r\nz=0 0\n")
            .replace("t=0 0\n", "");
        let r = normalize_remote(&s, SdpKind::Offer).unwrap();
        assert_rtc_accepts(&r.sdp);
        assert!(r.sdp.contains("t=0 0\r\n") && !r.sdp.contains("u=") && !r.sdp.contains("k="));
    }

    #[test]
    fn never_panics_on_mangled_input() {
        let base = CHROME.to_string();
        for cut in (0..base.len()).step_by(7) {
            if let Some(s) = base.get(..cut) {
                let _ = normalize_remote(s, SdpKind::Offer);
            }
        }
        for s in [
            "v=0\nm=",
            "v=0\nm=audio 1 UDP/TLS/RTP/SAVPF",
            "v=0\no=\nm=audio 1 a b",
            "v=0\r\na=:\r\nm=audio 65536 x 0",
            "\u{feff}v=0",
        ] {
            let _ = normalize_remote(s, SdpKind::Offer);
        }
    }
}
