//! Normalisation of remote (peer) SDP before rtc sees it. See the module
//! documentation of [`crate::sdp`] for the rules.

use super::error::SdpError;
use super::limits::{self, coded};
use super::parse::{Attributes, Sdp, SdpLine};
use super::{Direction, RejectedSection, Setup};
use crate::fingerprint::Fingerprint;

mod candidate;
mod codecs;
mod profile;
mod session;
#[cfg(test)]
pub(crate) mod tests;

pub use candidate::{fnv1a32, normalize_candidate};
use codecs::filter_codecs;
pub use codecs::{normalize_fmtp_params, static_payload};
use profile::{check_profile, filter_extmaps};
use session::{check_connection, connection_address, normalize_session, valid_bandwidth};

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
                let max_bitrate = crate::video::sdp::max_bitrate(&m);
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
                        max_bitrate,
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
