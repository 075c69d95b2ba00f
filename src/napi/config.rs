//! Constructor options and session descriptions as JS passes them.

use crate::error::Error as CoreError;
use crate::peer::{Description, SdpType};
use napi_derive::napi;

/// One `iceServers` entry.
#[napi(object)]
pub struct NativeIceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`.
    pub urls: Vec<String>,
    /// TURN username.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<String>,
}

/// Constructor options (see `RTCConfiguration` in `js/`).
#[napi(object)]
pub struct NativeConfig {
    /// STUN/TURN servers. TURN is accepted, but relay candidates are not gathered yet.
    pub ice_servers: Option<Vec<NativeIceServer>>,
    /// `"all"` (default) or `"relay"`.
    pub ice_transport_policy: Option<String>,
    /// Lowest UDP port to bind (inclusive); needs `portMax`.
    pub port_min: Option<u32>,
    /// Highest UDP port to bind (inclusive).
    pub port_max: Option<u32>,
    /// IP addresses to bind; default: every non-loopback IPv4 interface (loopback if none).
    pub bind_addresses: Option<Vec<String>>,
    /// Codec preference, e.g. `["opus", "g722", "pcmu", "pcma", "g729"]` (the default).
    pub codecs: Option<Vec<String>>,
    /// Gathering timeout in ms; `0` = unbounded. @default 5000
    pub ice_gathering_timeout: Option<u32>,
    /// Milliseconds without inbound RTP (while receiving) before an `rtptimeout` event; `0` = never. @default 10000
    pub rtp_timeout: Option<u32>,
    /// Opus encoder complexity, 0 to 10 (libopus default, also the cheapest measured here). @default 10
    pub opus_complexity: Option<u32>,
    /// Negotiate the abs-send-time RTP header extension and report one-way
    /// delay (p50, p99, histogram) on the `inbound-rtp` stats entry. @default false
    pub measure_one_way_delay: Option<bool>,
    /// The profile of our offers: `"webrtc"` (ICE + DTLS-SRTP), `"rtp"`
    /// (plain RTP/AVP) or `"sdes"` (RTP/SAVP with `a=crypto`). Answers take
    /// the offer's profile. @default "webrtc"
    pub media_profile: Option<String>,
    /// Accept and offer unencrypted media (RTP/AVP); `false` answers such
    /// offers with `ERR_UNSUPPORTED_PROFILE` (SIP: 488). @default true
    pub allow_unencrypted_media: Option<bool>,
    /// Video without transcoding; absent = audio only (video offers are
    /// answered with the video section rejected).
    pub video: Option<NativeVideoConfig>,
}

/// `video` constructor option.
#[napi(object)]
pub struct NativeVideoConfig {
    /// `["vp8", "h264"]` (the default), most preferred first.
    pub codecs: Option<Vec<String>>,
    /// `"recvonly"` (default), `"sendrecv"`, `"sendonly"` or `"inactive"`.
    pub direction: Option<String>,
}

/// `RTCSessionDescriptionInit`.
#[napi(object)]
pub struct NativeDescription {
    /// `offer`, `answer`, `pranswer` or `rollback`.
    #[napi(js_name = "type")]
    pub sdp_type: String,
    /// SDP text.
    pub sdp: String,
}

pub(super) fn desc_to_js(d: Description) -> NativeDescription {
    NativeDescription {
        sdp_type: d.sdp_type.as_str().into(),
        sdp: d.sdp,
    }
}

pub(super) fn desc_from_js(d: NativeDescription) -> std::result::Result<Description, CoreError> {
    Ok(Description {
        sdp_type: SdpType::parse(&d.sdp_type)?,
        sdp: d.sdp,
    })
}
