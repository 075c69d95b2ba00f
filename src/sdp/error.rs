//! Error type for SDP normalisation.

use thiserror::Error;

/// Why a remote SDP could not be normalised into something sipwire can use.
///
/// Every variant carries a human-readable message that says what was wrong
/// with the SDP; [`SdpError::code`] gives a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The body is not SDP at all, or a structural line (v=, o=, m=, c=) is
    /// malformed, or required ICE credentials are missing.
    #[error("invalid SDP: {0}")]
    Parse(String),
    /// The audio section offers none of opus/48000/2, PCMU/8000, PCMA/8000.
    #[error("{0}")]
    NoCommonCodec(String),
    /// The audio section does not use DTLS-SRTP (wrong profile or no fingerprint).
    #[error("{0}")]
    UnsupportedProfile(String),
    /// There is no usable (non-zero port) audio section.
    #[error("{0}")]
    NoAudio(String),
    /// The SDP is larger than [`crate::sdp::limits::MAX_SDP_BYTES`].
    #[error("{0}")]
    TooLarge(String),
    /// The SDP has more m-sections than [`crate::sdp::limits::MAX_MEDIA_SECTIONS`].
    #[error("{0}")]
    TooManySections(String),
}

impl SdpError {
    /// Stable error code for the JS side, e.g. `"ERR_SDP_PARSE"`.
    pub fn code(&self) -> &'static str {
        match self {
            SdpError::Parse(_) => "ERR_SDP_PARSE",
            SdpError::NoCommonCodec(_) => "ERR_NO_COMMON_CODEC",
            SdpError::UnsupportedProfile(_) => "ERR_UNSUPPORTED_PROFILE",
            SdpError::NoAudio(_) => "ERR_NO_AUDIO",
            SdpError::TooLarge(_) => "ERR_SDP_TOO_LARGE",
            SdpError::TooManySections(_) => "ERR_SDP_TOO_MANY_SECTIONS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        assert_eq!(SdpError::Parse("x".into()).code(), "ERR_SDP_PARSE");
        assert_eq!(
            SdpError::NoCommonCodec("x".into()).code(),
            "ERR_NO_COMMON_CODEC"
        );
        assert_eq!(
            SdpError::UnsupportedProfile("x".into()).code(),
            "ERR_UNSUPPORTED_PROFILE"
        );
        assert_eq!(SdpError::NoAudio("x".into()).code(), "ERR_NO_AUDIO");
        assert_eq!(
            SdpError::Parse("no m= line".into()).to_string(),
            "invalid SDP: no m= line"
        );
        assert_eq!(SdpError::NoAudio("no audio".into()).to_string(), "no audio");
    }
}
