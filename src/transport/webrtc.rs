//! ICE + DTLS-SRTP through webrtc-rs's sans-IO `rtc` engine.
//!
//! [`WebRtcTransport`] owns the `RTCPeerConnection`: it builds it from the
//! negotiated codec list ([`crate::peer::negotiation::engine_codecs`]),
//! passes descriptions to it, and implements [`MediaTransport`] over it.
//! rtc sees `sendrecv` only and no RTP interceptors: directions and RTCP
//! are sipwire's (see [`crate::peer`] and [`crate::rtcp`]).

use super::{EngineCodec, MediaIn, MediaTransport, Transmit, TransportEvent};
use crate::audio::codec::CodecKind;
use crate::config::PeerConfig;
use crate::delay::ABS_SEND_TIME_URI;
use crate::error::{Error, Result};
use crate::sdp::Setup;
use bytes::BytesMut;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_G722, MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU,
    MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCDtlsRole, RTCDtlsTransportState, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::packet::Packet as RtcpPacket;
use rtc::rtp::packet::Packet as RtpPacket;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One rtc peer connection with one audio sender.
pub struct WebRtcTransport {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    /// rtc's next deadline, cached: polling it every loop costs real CPU.
    deadline: Option<Instant>,
    /// The far end's `a=fingerprint`s; its certificate is checked against
    /// them when DTLS completes (crate::fingerprint), not by rtc.
    remote_fingerprints: Vec<crate::fingerprint::Fingerprint>,
    verified: bool,
    /// The last datagram was DTLS: check whether it closed the transport.
    check_closed: bool,
    /// The last datagram was a fatal DTLS alert during the handshake. rtc
    /// ends the handshake but logs the alert and changes no state, so a
    /// call whose far end refused it stayed `connecting` for good.
    fatal_alert: bool,
}

impl WebRtcTransport {
    /// rtc's DTLS transport state (rtc raises no event for a close).
    fn dtls_state(&mut self) -> Option<RTCDtlsTransportState> {
        self.pc
            .rtp_sender(self.sender)
            .and_then(|s| s.transport().map(|t| t.state()))
    }

    /// Build the engine with `codecs`, our SSRC and our host candidates.
    /// `remote_offer` is the offer we answer, `None` when we will offer.
    /// With video configured to send, a video track is added; else, with
    /// no offer, a receive-only video transceiver; when answering, the offer's video payload types are
    /// registered. The offer's `a=setup` picks our DTLS role.
    pub fn new(
        cfg: &PeerConfig,
        identity: &crate::identity::Identity,
        codecs: &[EngineCodec],
        remote_offer: Option<&crate::sdp::RemoteSdp>,
        ssrc: u32,
        candidates: &[String],
        now: Instant,
    ) -> Result<Self> {
        let answering_video = remote_offer.map(|o| o.video.as_ref());
        let remote_setup = remote_offer.and_then(|o| o.setup);
        let mut me = MediaEngine::default();
        for c in codecs {
            let mime = match c.kind {
                Some(k) => kind_mime(k),
                None => MIME_TYPE_TELEPHONE_EVENT,
            };
            register(
                &mut me,
                mime,
                c.clock_rate,
                c.channels,
                c.fmtp.clone(),
                c.pt,
            )?;
        }
        if let Some(v) = &cfg.video {
            crate::video::negotiate::register(&mut me, answering_video.flatten(), v)?;
        }
        if cfg.measure_one_way_delay {
            // rtc then offers the extmap, and answers it only when offered.
            me.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: ABS_SEND_TIME_URI.to_owned(),
                },
                RtpCodecKind::Audio,
                None,
            )?;
        }
        // Answering as DTLS server (passive) is faster with rtc: as client its
        // ClientHello waits for the next timer. Only a passive offer forces us active.
        let role = match remote_setup {
            Some(Setup::Passive) => RTCDtlsRole::Client,
            _ => RTCDtlsRole::Server,
        };
        let mut se = SettingEngineBuilder::new();
        if let Some(provider) = identity.entropy.crypto_provider()? {
            // ICE credentials (also at restart), tie-breakers, DTLS randoms.
            se = se.with_crypto_provider(provider);
        }
        let se = se
            .with_answering_dtls_role(role)
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_ice_connection_attempts(Some(Duration::from_millis(10)), Some(100))
            .with_include_loopback_candidate(true)
            // Checked against every RFC 8122 hash (crate::fingerprint) when
            // the handshake completes: rtc verifies sha-256 only, and on a
            // mismatch fails silently, leaving the call hanging.
            .with_disable_certificate_fingerprint_verification(true)
            .build();
        // No interceptors: RTCP reports are ours (crate::rtcp); rtc's report
        // interceptors walked every RTP packet for counters Media already has.
        let registry = Registry::new().with(
            rtc::interceptor::Slot::ReceiverReport,
            crate::rtcp::DeliverRtcp::default(),
        );
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_certificates(vec![identity.certificate()?])
                    .build(),
            )
            .with_setting_engine(se)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .build(now)?;
        let track = MediaStreamTrack::new(
            "sipwire".to_string(),
            "sipwire-audio".to_string(),
            "sipwire-audio".to_string(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                // No codec here: a codec on the encoding would become the
                // transceiver's only preference and drop telephone-event.
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track)?;
        match &cfg.video {
            Some(v) if v.direction.has_send() => {
                crate::video::negotiate::add_track(&mut pc, ssrc)?;
            }
            Some(_) if answering_video.is_none() => {
                crate::video::negotiate::add_transceiver(&mut pc)?;
            }
            _ => {}
        }
        for c in candidates {
            pc.add_local_candidate(RTCIceCandidateInit {
                candidate: c.clone(),
                ..Default::default()
            })?;
        }
        Ok(WebRtcTransport {
            pc,
            sender,
            deadline: None,
            remote_fingerprints: Vec::new(),
            verified: false,
            check_closed: false,
            fatal_alert: false,
        })
    }

    /// rtc's `createOffer`, optionally with new ICE credentials.
    pub fn create_offer(&mut self, ice_restart: bool) -> Result<String> {
        if ice_restart {
            self.pc.restart_ice();
        }
        Ok(self.pc.create_offer(None)?.sdp)
    }

    /// rtc's `createAnswer`.
    pub fn create_answer(&mut self) -> Result<String> {
        Ok(self.pc.create_answer(None)?.sdp)
    }

    /// Apply a local offer (`answer` false) or answer.
    pub fn set_local(&mut self, now: Instant, answer: bool, sdp: String) -> Result<()> {
        let d = if answer {
            RTCSessionDescription::answer(sdp)?
        } else {
            RTCSessionDescription::offer(sdp)?
        };
        self.pc.set_local_description(now, d)?;
        Ok(())
    }

    /// Apply a remote offer (`answer` false) or answer, and remember its
    /// fingerprints for the DTLS check.
    pub fn set_remote(
        &mut self,
        now: Instant,
        answer: bool,
        sdp: String,
        fingerprints: &[crate::fingerprint::Fingerprint],
    ) -> Result<()> {
        let d = if answer {
            RTCSessionDescription::answer(sdp)?
        } else {
            RTCSessionDescription::offer(sdp)?
        };
        self.pc.set_remote_description(now, d)?;
        self.remote_fingerprints = fingerprints.to_vec();
        Ok(())
    }

    /// Roll back the pending local or remote offer.
    pub fn rollback(&mut self, now: Instant, local: bool) -> Result<()> {
        let rb: RTCSessionDescription =
            serde_json::from_value(serde_json::json!({"type": "rollback", "sdp": ""}))
                .map_err(|e| Error::Rtc(e.to_string()))?;
        if local {
            self.pc.set_local_description(now, rb)?;
        } else {
            self.pc.set_remote_description(now, rb)?;
        }
        Ok(())
    }

    /// The next offer carries new ICE credentials.
    pub fn restart_ice(&mut self) {
        self.pc.restart_ice();
    }

    /// A trickled remote candidate (already checked by the peer).
    pub fn add_remote_candidate(&mut self, c: &str) -> Result<()> {
        self.pc
            .add_remote_candidate(RTCIceCandidateInit {
                candidate: c.to_string(),
                ..Default::default()
            })
            .map_err(|e| Error::InvalidArgument(format!("bad candidate {c:?}: {e}")))
    }

    /// A gathered local candidate (srflx); `url` is the STUN server's.
    pub fn add_local_candidate(&mut self, line: &str, url: String) -> Result<()> {
        let init = RTCIceCandidateInit {
            candidate: line.to_owned(),
            url: Some(url),
            ..Default::default()
        };
        self.pc.add_local_candidate(init)?;
        Ok(())
    }

    /// Gathering is complete.
    pub fn end_of_candidates(&mut self) {
        let _ = self.pc.add_local_candidate(RTCIceCandidateInit::default());
    }
}

impl MediaTransport for WebRtcTransport {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: local,
                peer_addr: remote,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        };
        if is_plaintext_fatal_alert(data)
            && self.dtls_state() != Some(RTCDtlsTransportState::Connected)
        {
            self.fatal_alert = true;
        }
        if let Err(e) = self.pc.handle_read(msg) {
            // Garbage from the network is dropped, never fatal.
            log::debug!("dropping datagram from {remote}: {e}");
        }
        // RTP/RTCP (RFC 7983: first byte 128..=191) only ever adds rtc timers
        // that are >= 1 s away (RTCP reports), so the peer re-reads the
        // deadline every few ticks instead of after every packet: querying
        // rtc's poll_timeout walks its whole handler chain.
        if !matches!(data.first(), Some(128..=191)) {
            self.deadline = None;
        }
        // DTLS (RFC 7983): a close_notify closes rtc's DTLS transport
        // without any event or state change of its own.
        self.check_closed = matches!(data.first(), Some(20..=63));
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d <= now) {
            if let Err(e) = self.pc.handle_timeout(now) {
                log::debug!("rtc timeout handling: {e}");
            }
            self.deadline = None;
        }
    }

    fn poke(&mut self, now: Instant) {
        if let Err(e) = self.pc.handle_timeout(now) {
            log::debug!("rtc timeout handling: {e}");
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.deadline.is_none() {
            self.deadline = self.pc.poll_timeout();
        }
        self.deadline
    }

    fn refresh_timeout(&mut self) {
        self.deadline = None;
    }

    fn send_rtp(&mut self, now: Instant, pkt: RtpPacket) {
        // Straight into the pipeline: RTCRtpSender::write_rtp rebuilds
        // the sender's parameters (codec list, extensions) on every
        // packet just to validate what Media already guarantees (our
        // SSRC, a negotiated PT, only negotiated header extensions).
        let msg = TaggedRTCMessage {
            now,
            message: RTCMessage::RtpPacket(String::new(), pkt),
        };
        if let Err(e) = self.pc.handle_write(msg) {
            log::debug!("RTP write: {e}");
        }
    }

    fn send_rtcp(&mut self, now: Instant, pkts: Vec<Box<dyn RtcpPacket>>) {
        let msg = TaggedRTCMessage {
            now,
            message: RTCMessage::RtcpPacket(String::new(), pkts),
        };
        if let Err(e) = self.pc.handle_write(msg) {
            log::debug!("RTCP write: {e}");
        }
    }

    fn poll_media(&mut self) -> Option<MediaIn> {
        while let Some(m) = self.pc.poll_read() {
            match m.message {
                RTCMessage::RtpPacket(_, pkt) => return Some(MediaIn::Rtp(pkt)),
                RTCMessage::RtcpPacket(_, pkts) => return Some(MediaIn::Rtcp(pkts)),
                _ => {}
            }
        }
        None
    }

    fn poll_event(&mut self) -> Option<TransportEvent> {
        while let Some(ev) = self.pc.poll_event() {
            match ev {
                RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(s) => {
                    return Some(TransportEvent::IceConnectionState(s.to_string()))
                }
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                    let s = s.to_string();
                    if s == "connected" && !self.verified {
                        // Before any SRTP is read or sent: the handshake just
                        // completed and rtc no longer checks the certificate.
                        let (cert, dtls_state) = match self.pc.rtp_sender(self.sender) {
                            Some(snd) => match snd.transport() {
                                Some(t) => (
                                    t.get_remote_certificates().first().cloned(),
                                    Some(t.state()),
                                ),
                                None => (None, None),
                            },
                            None => (None, None),
                        };
                        if cert.is_none() && dtls_state == Some(RTCDtlsTransportState::Closed) {
                            // The far end's close_notify arrived before this
                            // event was polled: the certificate is gone with
                            // the transport, and no SRTP can flow. That is a
                            // hang-up (remote_closed reports it), not a mismatch.
                            self.check_closed = true;
                            continue;
                        }
                        let fps = &self.remote_fingerprints;
                        let failure = match cert.map(|c| crate::fingerprint::verify(&c, fps)) {
                            Some(Ok(())) => None,
                            Some(Err(m)) => Some(m),
                            None => Some("the peer presented no DTLS certificate".into()),
                        };
                        if let Some(message) = failure {
                            return Some(TransportEvent::Failed {
                                code: crate::hangup::DTLS_FINGERPRINT,
                                message,
                            });
                        }
                        self.verified = true;
                    }
                    return Some(TransportEvent::ConnectionState(s));
                }
                _ => {}
            }
        }
        None
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let m = self.pc.poll_write()?;
        Some(Transmit {
            local: m.transport.local_addr,
            remote: m.transport.peer_addr,
            data: m.message,
        })
    }

    fn remote_closed(&mut self) -> Option<&'static str> {
        let closed = std::mem::take(&mut self.check_closed)
            && self.dtls_state() == Some(RTCDtlsTransportState::Closed);
        if closed {
            return Some("the far end closed the connection (DTLS close_notify)");
        }
        std::mem::take(&mut self.fatal_alert).then_some(
            "the far end ended DTLS with a fatal alert (it refused the handshake or hung up)",
        )
    }

    fn close(&mut self) {
        if let Err(e) = self.pc.close() {
            log::debug!("rtc close: {e}");
        }
    }

    fn stats(&mut self, now: Instant) -> (Vec<serde_json::Value>, crate::stats::IceView) {
        crate::stats::transport_entries(&mut self.pc, Some(self.sender), now)
    }
}

fn kind_mime(k: CodecKind) -> &'static str {
    match k {
        CodecKind::Opus => MIME_TYPE_OPUS,
        CodecKind::Pcmu => MIME_TYPE_PCMU,
        CodecKind::Pcma => MIME_TYPE_PCMA,
        CodecKind::G722 => MIME_TYPE_G722,
        CodecKind::G729 => "audio/G729",
    }
}

fn register(
    me: &mut MediaEngine,
    mime: &str,
    rate: u32,
    channels: u16,
    fmtp: String,
    pt: u8,
) -> Result<()> {
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: rate,
                channels,
                sdp_fmtp_line: fmtp,
                rtcp_feedback: vec![],
            },
            payload_type: pt,
        },
        RtpCodecKind::Audio,
    )?;
    Ok(())
}

/// A DTLS record in the clear (epoch 0, so sent before the handshake
/// finished) carrying a fatal alert (RFC 6347 §4.1, RFC 5246 §7.2): the
/// far end has given up on the handshake.
fn is_plaintext_fatal_alert(d: &[u8]) -> bool {
    d.len() >= 15 && d[0] == 21 && d[3..5] == [0, 0] && d[11..13] == [0, 2] && d[13] == 2
}
