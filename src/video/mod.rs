//! Video without transcoding: negotiation of VP8 and H.264 sections, and a
//! receive path that turns RTP into whole frames and writes them to a file
//! (IVF for VP8, Annex B for H.264). No video codec runs in the process.
//!
//! Nothing here runs unless the connection's configuration enables video
//! ([`VideoConfig`]): an audio-only connection never builds a
//! [`receiver::VideoReceiver`] and answers a video section with port 0.
//!
//! * [`sdp`]: which offered video codecs we keep (VP8, H.264 in
//!   packetization-mode 1, their RTX) and which feedback we answer.
//! * [`vp8`], [`h264`]: per-codec depacketising and bitstream headers.
//! * [`assembler`]: RTP packets to whole frames, loss and NACK/PLI decisions.
//! * [`ivf`]: the IVF container.
//! * [`plain_sdp`]: the video section of plain RTP/AVP and SDES SDPs (own port, own keys).
//! * [`receiver`]: the per-connection receive pipeline and its stats.

pub mod assembler;
pub mod clip;
pub mod h264;
pub mod ivf;
pub mod negotiate;
pub mod packetize;
pub mod plain_sdp;
pub mod receiver;
pub mod sdp;
pub mod sender;
pub mod vp8;

use crate::error::{Error, Result};

/// A video codec sipwire forwards without decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// VP8 (RFC 7741).
    Vp8,
    /// H.264 (RFC 6184), packetization-mode 1.
    H264,
}

impl VideoCodec {
    /// Parse a configuration name (`vp8`, `h264`, case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "vp8" => Some(VideoCodec::Vp8),
            "h264" => Some(VideoCodec::H264),
            _ => None,
        }
    }

    /// The `a=rtpmap` encoding name.
    pub fn mime_name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::H264 => "H264",
        }
    }

    /// The W3C stats `mimeType`.
    pub fn mime_type(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "video/VP8",
            VideoCodec::H264 => "video/H264",
        }
    }
}

/// Video settings of one connection; `None` in [`crate::config::PeerConfig`]
/// keeps the connection audio-only (video offered to it is rejected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoConfig {
    /// Codecs accepted, most preferred first.
    pub codecs: Vec<VideoCodec>,
    /// Our direction for video: `recvonly` (default), `sendrecv`,
    /// `sendonly` (send a clip with `playVideo`) or `inactive`.
    pub direction: crate::sdp::Direction,
}

impl VideoConfig {
    /// Validate raw options from JS.
    ///
    /// ```
    /// use sipwire::video::{VideoCodec, VideoConfig};
    /// let v = VideoConfig::from_input(&["vp8".into()], None).unwrap();
    /// assert_eq!(v.codecs, vec![VideoCodec::Vp8]);
    /// ```
    pub fn from_input(codecs: &[String], direction: Option<&str>) -> Result<Self> {
        let mut out = Vec::new();
        for name in codecs {
            let c = VideoCodec::parse(name).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown video codec {name:?} (supported: vp8, h264)"
                ))
            })?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.is_empty() {
            out = vec![VideoCodec::Vp8, VideoCodec::H264];
        }
        let direction = direction.unwrap_or("recvonly");
        let direction = crate::sdp::Direction::parse(direction).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "video direction must be 'recvonly', 'sendrecv', 'sendonly' or 'inactive', got {direction:?}"
            ))
        })?;
        Ok(VideoConfig {
            codecs: out,
            direction,
        })
    }
}
