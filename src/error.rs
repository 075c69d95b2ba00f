//! The core's error type. Every variant maps to a stable `code` string that the
//! binding copies onto the JS `Error`, so callers can branch on `err.code`
//! without parsing messages.

use crate::sdp::SdpError;

/// Errors returned by the core. The message says what was wrong; [`Error::code`]
/// is the stable machine-readable part.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Remote or local SDP could not be used (`ERR_SDP_PARSE`,
    /// `ERR_NO_COMMON_CODEC`, `ERR_UNSUPPORTED_PROFILE`, ...).
    #[error(transparent)]
    Sdp(#[from] SdpError),
    /// The call is not allowed in the current signaling state.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The connection was closed.
    #[error("the RTCPeerConnection is closed")]
    Closed,
    /// A caller-supplied argument is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A feature that is configured but not implemented yet (for example TURN relay).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// Socket or file I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A WAV file could not be read.
    #[error("WAV: {0}")]
    Wav(String),
    /// An audio codec failed.
    #[error("codec: {0}")]
    Codec(String),
    /// The WebRTC engine (rtc) reported an error.
    #[error("webrtc: {0}")]
    Rtc(String),
}

impl Error {
    /// Stable code for the JS side (`err.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Sdp(e) => e.code(),
            Error::InvalidState(_) => "ERR_INVALID_STATE",
            Error::Closed => "ERR_CLOSED",
            Error::InvalidArgument(_) => "ERR_INVALID_ARG",
            Error::Unsupported(_) => "ERR_UNSUPPORTED",
            Error::Io(_) => "ERR_IO",
            Error::Wav(_) => "ERR_WAV",
            Error::Codec(_) => "ERR_CODEC",
            Error::Rtc(_) => "ERR_WEBRTC",
        }
    }
}

impl From<rtc::shared::error::Error> for Error {
    fn from(e: rtc::shared::error::Error) -> Self {
        Error::Rtc(e.to_string())
    }
}

/// Result alias for the core.
pub type Result<T> = std::result::Result<T, Error>;
