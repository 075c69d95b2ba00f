//! Bounds on remote SDP, so a hostile offer costs little and the same for
//! every caller (`validateOffer`, `setRemoteDescription`, answers).
//!
//! The size check runs before any parsing, in O(1); the section check right
//! after the (linear) line split; candidates beyond the limit are dropped, not
//! parsed, and reported once as [`WARN_CANDIDATE_LIMIT`]. Every later stage
//! (our normalisation, rtc's parser, rtc's ICE agent, which compares each new
//! remote candidate with all earlier ones) then works on bounded input.
//!
//! The figures leave ample room for real peers: a Chromium audio+video offer
//! with every candidate type is ~6-10 KB, 3 sections and ~10 candidates.

use super::error::SdpError;

/// Largest remote SDP accepted, in bytes (SIP over UDP caps a whole message
/// at 64 KB; over TCP/WebSocket an SDP above this is not a real phone).
pub const MAX_SDP_BYTES: usize = 128 * 1024;

/// Most m-sections accepted in a remote SDP (each one is answered, rejected
/// or not, so they cost output too).
pub const MAX_MEDIA_SECTIONS: usize = 64;

/// Most lines (other than candidates) at session level and in the audio
/// section: a real audio section has ~40, Chromium's whole audio+video offer
/// ~200. Beyond this the offer is refused as [`SdpError::TooLarge`], which
/// keeps every per-line pass (ours, rtc's parser and codec scan) small.
pub const MAX_SECTION_LINES: usize = 256;

/// Most remote candidates kept from one description; the rest are dropped
/// with one [`WARN_CANDIDATE_LIMIT`] warning. Browsers send under 20.
pub const MAX_REMOTE_CANDIDATES: usize = 32;

/// At most this many per-candidate "skipped" warnings per description; the
/// rest are summarised in one more.
pub const MAX_SKIP_WARNINGS: usize = 16;

/// Warning code: remote candidates beyond [`MAX_REMOTE_CANDIDATES`] were dropped.
pub const WARN_CANDIDATE_LIMIT: &str = "candidate-limit";
/// Warning code: one remote candidate was skipped (mDNS, TCP, malformed, ...).
pub const WARN_CANDIDATE_SKIPPED: &str = "candidate-skipped";
/// Warning code: an unusable `a=extmap` line was ignored (as browsers do).
pub const WARN_EXTMAP_IGNORED: &str = "extmap-ignored";

/// Reject an SDP larger than [`MAX_SDP_BYTES`] before looking at it.
///
/// # Example
/// ```
/// use sipwire::sdp::limits::{check_size, MAX_SDP_BYTES};
/// assert!(check_size(&"a".repeat(MAX_SDP_BYTES + 1), "offer").is_err());
/// assert!(check_size("v=0\r\n", "offer").is_ok());
/// ```
pub fn check_size(text: &str, what: &str) -> Result<(), SdpError> {
    check_len(text.len(), what)
}

/// Reject an SDP of at least `len` bytes (e.g. a UTF-16 length, which UTF-8
/// never undercuts) before it is even copied.
pub fn check_len(len: usize, what: &str) -> Result<(), SdpError> {
    if len > MAX_SDP_BYTES {
        return Err(SdpError::TooLarge(format!(
            "{what} is {len} bytes or more; sipwire accepts at most {MAX_SDP_BYTES}"
        )));
    }
    Ok(())
}

/// Reject a section (or the session level) with more than
/// [`MAX_SECTION_LINES`] lines.
pub fn check_lines(count: usize, section: &str, what: &str) -> Result<(), SdpError> {
    if count > MAX_SECTION_LINES {
        return Err(SdpError::TooLarge(format!(
            "{what} has {count} lines in its {section}; sipwire accepts at most {MAX_SECTION_LINES}"
        )));
    }
    Ok(())
}

/// Reject an SDP with more than [`MAX_MEDIA_SECTIONS`] m-sections.
pub fn check_sections(count: usize, what: &str) -> Result<(), SdpError> {
    if count > MAX_MEDIA_SECTIONS {
        return Err(SdpError::TooManySections(format!(
            "{what} has {count} m-sections; sipwire accepts at most {MAX_MEDIA_SECTIONS}"
        )));
    }
    Ok(())
}

/// A warning message with its stable code in front, `"[code] text"`: the
/// form the binding's `warning` event splits into `code` and `message`.
pub fn coded(code: &str, text: impl std::fmt::Display) -> String {
    format!("[{code}] {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_codes() {
        assert_eq!(
            check_size(&"x".repeat(MAX_SDP_BYTES + 1), "offer")
                .unwrap_err()
                .code(),
            "ERR_SDP_TOO_LARGE"
        );
        assert!(check_size(&"x".repeat(MAX_SDP_BYTES), "offer").is_ok());
        let e = check_sections(MAX_MEDIA_SECTIONS + 1, "offer").unwrap_err();
        assert_eq!(e.code(), "ERR_SDP_TOO_MANY_SECTIONS");
        assert!(e.to_string().contains("65 m-sections"), "{e}");
        assert!(check_sections(MAX_MEDIA_SECTIONS, "offer").is_ok());
        let e = check_lines(MAX_SECTION_LINES + 1, "audio section", "offer").unwrap_err();
        assert_eq!(e.code(), "ERR_SDP_TOO_LARGE");
        assert!(check_lines(MAX_SECTION_LINES, "audio section", "offer").is_ok());
        assert_eq!(coded("some-code", "y"), "[some-code] y");
    }
}
