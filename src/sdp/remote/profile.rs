//! The audio section's transport profile and fingerprints, and its header extensions.

use crate::fingerprint::Fingerprint;
use crate::sdp::error::SdpError;
use crate::sdp::limits::{self, coded};
use crate::sdp::parse::{Attributes, MediaSection, SdpLine};

/// Check the audio profile and collect the fingerprints.
/// Returns the (possibly rewritten) proto and every usable fingerprint
/// (audio level first, then session level; at least one).
pub(super) fn check_profile(
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
pub(super) fn filter_extmaps(audio: &mut MediaSection, warnings: &mut Vec<String>) {
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
