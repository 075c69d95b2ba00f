//! SDP normalisation for SIP interop.
//!
//! Real SIP peers (Asterisk, FreeSWITCH, rtpengine, browsers behind SIP.js,
//! old Safari) send legal SDP that webrtc-rs `rtc` 0.21 either rejects or
//! misreads, and rtc's own local SDP lacks things SIP needs. This module is
//! pure, I/O-free text processing on SDP *lines*; it never uses rtc's parser
//! (the tests do, to prove the output is acceptable to rtc).
//!
//! # Remote SDP ([`normalize_remote`])
//!
//! Input may use LF or CRLF line ends and carry trailing spaces; output is
//! CRLF, ends with CRLF, and is written in RFC 8866 line order (rtc's parser is
//! a strict state machine and rejects e.g. a media `c=` after `a=` lines).
//!
//! 1. Only the first audio m-section with a non-zero port is kept. Every
//!    other section (video, a second audio, data channels including the
//!    old `m=application 5000 DTLS/SCTP 5000` form, port-0 sections) is
//!    removed and recorded in [`RemoteSdp::rejected_sections`] so the answer
//!    can put back `m=<media> 0 <proto> <fmt>` at that index (RFC 3264 §6).
//! 2. The audio proto must be `UDP/TLS/RTP/SAVPF` or `UDP/TLS/RTP/SAVP` and a
//!    fingerprint must exist ([`SdpError::UnsupportedProfile`] otherwise).
//!    Legacy `RTP/SAVPF`/`RTP/SAVP` *with* a fingerprint (pre-RFC 5764 DTLS-SRTP)
//!    is accepted and rewritten to the `UDP/TLS/` form; the original proto is
//!    kept in [`RemoteSdp::audio_proto`]. `a=crypto` (SDES) lines are dropped.
//! 3. Fingerprints: rtc requires all `a=fingerprint` values (session + every
//!    media section) to be byte-identical, splits on a single space, and its
//!    DTLS layer accepts only the exact algorithm name `sha-256`. We keep one
//!    `a=fingerprint:sha-256 <hex>` at media level (hash name lowercased,
//!    hex untouched) and remove the rest; no sha-256 fingerprint is
//!    `UnsupportedProfile`.
//! 4. `a=mid:0` is added if missing; `a=group:BUNDLE <mid>` replaces any
//!    group lines at session level.
//! 5. Static payload types without `a=rtpmap` get one (0 PCMU, 8 PCMA, 9 G722...).
//! 6. Only opus/48000/2, G722/8000, PCMU/8000, PCMA/8000, G729/8000 and
//!    telephone-event/8000 or /48000 survive; other payload types are removed
//!    from the m-line with their rtpmap/fmtp/rtcp-fb lines. No audio codec left is
//!    [`SdpError::NoCommonCodec`]. rtpmap lines are rewritten canonically
//!    (`opus/48000/2`, `PCMU/8000`, ...).
//! 7. Direction: rtc reads direction only from media sections, so a
//!    session-level direction is moved to the section; none at all adds
//!    `a=sendrecv`. `a=setup` is likewise moved to media level (rtc reads it
//!    only there) and lowercased.
//! 8. Candidates: rtc's `unmarshal_candidate` fails the whole remote
//!    description on one bad candidate, so we drop (and record in
//!    [`RemoteSdp::skipped_candidates`]) mDNS `.local` hosts, TCP, port 0,
//!    component 2 (we force rtcp-mux), non-IP hostnames, unknown types and
//!    malformed lines. Non-numeric foundations are rewritten to a stable
//!    FNV-1a u32 (rtc itself accepts any token, but SIP-side tools expect
//!    numbers). `a=end-of-candidates` is kept.
//! 9. fmtp parameters lose whitespace around `;` and `=`.
//! 10. `a=rtcp-mux` is added if absent.
//! 11. ICE credentials are put at media level (media wins over session; rtc
//!     errors on conflicting values); none anywhere is a parse error.
//! 12. Session `c=` only is fine and kept. `u=`, `r=`, `z=`, `k=` and
//!     unparsable `b=` lines are dropped (rtc parses URLs and bandwidth
//!     strictly); missing `s=`/`t=` are added.
//!
//! # Local SDP ([`rewrite_local`])
//!
//! Replaces candidates, fixes the default address (m-line port, `c=`,
//! `a=rtcp`), direction and `a=setup`, dedupes telephone-event per clock
//! rate, puts rejected sections back, optionally strips BUNDLE.

mod annexb;
pub mod error;
pub mod limits;
pub mod local;
pub mod parse;
pub mod plain;
pub mod remote;

pub use error::SdpError;
pub use local::{
    answer_setup, default_candidate, remove_payload_types, rewrite_local, set_direction,
    strip_rejected_sections, LocalRewrite,
};
pub use remote::{normalize_remote, RemoteCodec, RemoteSdp, SdpKind};

/// The id of the `a=extmap` line for `uri` (RFC 8285; a `/direction`
/// suffix is allowed), first match anywhere in `sdp_text`. Our normalised SDP
/// holds a single audio section, so this is that section's id.
pub fn extmap_id(sdp_text: &str, uri: &str) -> Option<u16> {
    sdp_text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("a=extmap:")?;
        let mut parts = rest.split_whitespace();
        let id = parts.next()?.split('/').next()?.parse().ok()?;
        (parts.next()? == uri).then_some(id)
    })
}

/// RFC 3264 media direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `"sendrecv"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parse an attribute name (case-insensitive); `None` if not a direction.
    pub fn parse(s: &str) -> Option<Direction> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// True for `sendrecv` and `sendonly`.
    pub fn has_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// True for `sendrecv` and `recvonly`.
    pub fn has_recv(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction seen from the other side: sendonly <-> recvonly.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

/// RFC 4145 `a=setup` value (DTLS role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: DTLS client.
    Active,
    /// `passive`: DTLS server.
    Passive,
    /// `actpass`: either; the answerer chooses.
    ActPass,
    /// `holdconn`: no connection now.
    HoldConn,
}

impl Setup {
    /// The attribute value, e.g. `"actpass"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }

    /// Parse an attribute value (case-insensitive).
    pub fn parse(s: &str) -> Option<Setup> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            "actpass" => Some(Setup::ActPass),
            "holdconn" => Some(Setup::HoldConn),
            _ => None,
        }
    }
}

/// A media section removed from a remote SDP (or to be put back, port 0, into
/// a local one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedSection {
    /// Index of the m-section in the original SDP.
    pub index: usize,
    /// `video`, `application`, `audio`, ...
    pub media: String,
    /// Proto as offered, e.g. `UDP/DTLS/SCTP`.
    pub proto: String,
    /// Format list as offered, space separated (may be empty).
    pub fmt: String,
    /// The section's `a=mid`, if it had one (an answer should echo it).
    pub mid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_roundtrip() {
        for d in [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ] {
            assert_eq!(Direction::parse(d.as_str()), Some(d));
            assert_eq!(d.reverse().reverse(), d);
        }
        assert_eq!(Direction::SendOnly.reverse(), Direction::RecvOnly);
        assert_eq!(Direction::Inactive.reverse(), Direction::Inactive);
        assert_eq!(Direction::parse("SENDRECV"), Some(Direction::SendRecv));
        assert_eq!(Direction::parse("foo"), None);
        assert!(Direction::SendOnly.has_send() && !Direction::SendOnly.has_recv());
        assert!(Direction::RecvOnly.has_recv() && !Direction::Inactive.has_send());
    }

    #[test]
    fn finds_extmap_ids() {
        let sdp = "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:3/sendrecv http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n";
        assert_eq!(extmap_id(sdp, crate::delay::ABS_SEND_TIME_URI), Some(3));
        assert_eq!(
            extmap_id(sdp, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            Some(1)
        );
        assert_eq!(extmap_id(sdp, "urn:x"), None);
    }

    #[test]
    fn setup_roundtrip() {
        for s in [
            Setup::Active,
            Setup::Passive,
            Setup::ActPass,
            Setup::HoldConn,
        ] {
            assert_eq!(Setup::parse(s.as_str()), Some(s));
        }
        assert_eq!(Setup::parse("ACTPASS"), Some(Setup::ActPass));
        assert_eq!(Setup::parse(""), None);
    }
}
