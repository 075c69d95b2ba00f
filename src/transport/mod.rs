//! The seam between the media pipeline and the wire.
//!
//! A [`MediaTransport`] carries one media session's RTP and RTCP: the peer
//! hands it clear RTP packets and RTCP compounds to send, feeds it the
//! datagrams of its sockets, and reads back decrypted RTP and RTCP, state
//! changes and datagrams to send. Like the peer it is sans-IO: time comes in
//! as an `Instant`, bytes go out through [`MediaTransport::poll_transmit`].
//!
//! Implementations:
//! - [`webrtc::WebRtcTransport`]: ICE + DTLS-SRTP through webrtc-rs `rtc`
//!   (which also runs the SDP offer/answer for it).
//! - [`plain::PlainTransport`]: plain RTP/AVP over UDP and SDES-SRTP, no ICE
//!   or DTLS (symmetric RTP latching, RTCP port rules: [`crate::plain_rtp`]);
//!   its SDP is sipwire's own ([`crate::sdp::plain`], `peer::plain`).
//!
//! The media pipeline ([`crate::media`]) and negotiation
//! ([`crate::peer::negotiation`]) are the same for every transport. Packets are not tied to one media kind: over WebRTC
//! a second kind (video) is another SSRC on the same (bundled) transport,
//! demultiplexed by the pipeline above; a plain call's video has a
//! [`plain::PlainTransport`] of its own (its own sockets, latch and SDES
//! keys), which the same video pipeline reaches through this trait.
//!
//! ```
//! use sipwire::transport::{MediaIn, MediaTransport};
//! // The peer's receive loop, for any transport:
//! fn drain(t: &mut dyn MediaTransport) -> usize {
//!     let mut n = 0;
//!     while let Some(m) = t.poll_media() {
//!         match m {
//!             MediaIn::Rtp(_pkt) => n += 1, // -> Media::on_rtp
//!             MediaIn::Rtcp(_pkts) => {}    // -> rtcp::Reporter::on_rtcp
//!         }
//!     }
//!     n
//! }
//! # let _ = drain;
//! ```

pub mod plain;
pub mod webrtc;

use bytes::BytesMut;
use rtc::rtcp::packet::Packet as RtcpPacket;
use rtc::rtp::packet::Packet as RtpPacket;
use std::net::SocketAddr;
use std::time::Instant;

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    /// Our socket address to send from.
    pub local: SocketAddr,
    /// Destination.
    pub remote: SocketAddr,
    /// Bytes.
    pub data: BytesMut,
}

/// One payload format a transport's engine is built with (what
/// [`crate::peer::negotiation::engine_codecs`] decides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineCodec {
    /// An audio codec, or `None` for telephone-event.
    pub kind: Option<crate::audio::codec::CodecKind>,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels as written in the SDP (0 = unspecified).
    pub channels: u16,
    /// fmtp line.
    pub fmtp: String,
    /// Payload type.
    pub pt: u8,
}

/// Media that arrived, decrypted.
pub enum MediaIn {
    /// One RTP packet.
    Rtp(RtpPacket),
    /// One RTCP compound packet.
    Rtcp(Vec<Box<dyn RtcpPacket>>),
}

/// A transport state change, for the peer's W3C states.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportEvent {
    /// The W3C `iceConnectionState` value.
    IceConnectionState(String),
    /// The W3C `connectionState` value.
    ConnectionState(String),
    /// The transport cannot be used: `code` is a stable warning code (see
    /// [`crate::hangup`]), e.g. a DTLS certificate that does not match the
    /// SDP's fingerprint.
    Failed {
        /// Stable code.
        code: &'static str,
        /// For people.
        message: String,
    },
}

/// What the media pipeline needs from the wire.
pub trait MediaTransport {
    /// A datagram arrived on one of our sockets (already demultiplexed from
    /// STUN gathering and hang-up probes by the peer).
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]);
    /// Run the timers that are due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// Run the timers now, due or not: after a datagram that may have
    /// queued a handshake step that only a timer run sends.
    fn poke(&mut self, now: Instant);
    /// When [`MediaTransport::handle_timeout`] must next run.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Forget a cached deadline: the peer calls this every few media ticks
    /// while media flows, since sending may have added timers.
    fn refresh_timeout(&mut self);
    /// Send one RTP packet (the transport protects it if it must).
    fn send_rtp(&mut self, now: Instant, pkt: RtpPacket);
    /// Send one RTCP compound packet.
    fn send_rtcp(&mut self, now: Instant, pkts: Vec<Box<dyn RtcpPacket>>);
    /// Next decrypted RTP or RTCP that arrived.
    fn poll_media(&mut self) -> Option<MediaIn>;
    /// Next state change.
    fn poll_event(&mut self) -> Option<TransportEvent>;
    /// Next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// Why the far end closed the transport, when the last datagram did
    /// (a DTLS `close_notify`, or a fatal alert, which also ends a handshake
    /// still under way).
    fn remote_closed(&mut self) -> Option<&'static str>;
    /// Stop: what closing produces (e.g. DTLS `close_notify`) waits in
    /// [`MediaTransport::poll_transmit`].
    fn close(&mut self);
    /// W3C stats entries of the transport layer (`transport`,
    /// `candidate-pair`, candidates, `certificate`) and its ICE view.
    fn stats(&mut self, now: Instant) -> (Vec<serde_json::Value>, crate::stats::IceView) {
        let _ = now;
        Default::default()
    }
}
