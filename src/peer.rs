//! One peer connection: W3C signaling on top of rtc's sans-IO `RTCPeerConnection`,
//! plus the SIP interop policy (SDP normalisation, complete SDP after gathering)
//! and the audio pipeline.
//!
//! A [`Peer`] never touches a socket or a clock: the shard hands it datagrams,
//! timeouts and 20 ms media ticks with the current `Instant`, and drains
//! [`Peer::poll_transmit`] and [`Peer::poll_event`].
//!
//! Direction (hold) is applied by sipwire, not by rtc: rtc always sees
//! `sendrecv` and the negotiated direction gates our own media pipeline. That
//! keeps a hold re-INVITE from touching rtc's transceiver state machine, so
//! ICE and DTLS carry on untouched.

use crate::audio::codec::CodecKind;
use crate::config::PeerConfig;
use crate::delay::{WallAnchor, ABS_SEND_TIME_URI};
use crate::error::{Error, Result};
use crate::intake;
use crate::media::{Media, MediaEvent, RecvCodecs, SendCodec};
use crate::sdp::{self, Direction, LocalRewrite, RemoteSdp, SdpKind, Setup};
use bytes::BytesMut;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCDtlsRole, RTCDtlsTransportState, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// While media flows, rtc's deadline is re-read every this many ticks
/// (100 ms) rather than after every RTP packet in or out.
const DEADLINE_REFRESH_TICKS: u64 = 5;

/// W3C `RTCSdpType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpType {
    /// `offer`
    Offer,
    /// `answer`
    Answer,
    /// `pranswer` (treated as a final answer for media)
    Pranswer,
    /// `rollback`
    Rollback,
}

impl SdpType {
    /// Parse the W3C string.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "offer" => SdpType::Offer,
            "answer" => SdpType::Answer,
            "pranswer" => SdpType::Pranswer,
            "rollback" => SdpType::Rollback,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown description type {s:?}"
                )))
            }
        })
    }
    /// The W3C string.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Answer => "answer",
            SdpType::Pranswer => "pranswer",
            SdpType::Rollback => "rollback",
        }
    }
}

/// W3C `RTCSessionDescriptionInit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    /// Type.
    pub sdp_type: SdpType,
    /// SDP text.
    pub sdp: String,
}

/// W3C `RTCSignalingState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalingState {
    /// `stable`
    Stable,
    /// `have-local-offer`
    HaveLocalOffer,
    /// `have-remote-offer`
    HaveRemoteOffer,
    /// `closed`
    Closed,
}

impl SignalingState {
    /// The W3C string.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalingState::Stable => "stable",
            SignalingState::HaveLocalOffer => "have-local-offer",
            SignalingState::HaveRemoteOffer => "have-remote-offer",
            SignalingState::Closed => "closed",
        }
    }
}

/// Events for the application, in order.
#[derive(Debug, PartialEq)]
pub enum PeerEvent {
    /// `signalingstatechange`
    SignalingState(&'static str),
    /// `icegatheringstatechange`
    IceGatheringState(&'static str),
    /// `iceconnectionstatechange`
    IceConnectionState(String),
    /// `connectionstatechange`
    ConnectionState(String),
    /// `icecandidate`; `None` is end-of-candidates.
    IceCandidate(Option<String>),
    /// A gathering wait (see [`Peer::wait_gathering`]) ended.
    GatheringWaitDone(u64),
    /// Media pipeline events.
    Media(MediaEvent),
    /// Something the application should know but that is not an error, e.g.
    /// a remote candidate that was skipped (`.local` mDNS name, TCP).
    Warning(String),
    /// A warning with a stable code the application can act on, e.g.
    /// `ice-server-unresolved`, or the reason a connection is about to
    /// become `failed` (see [`crate::hangup`]).
    CodedWarning {
        /// e.g. `ice-server-unresolved`, `remote-closed`.
        code: &'static str,
        /// For people.
        message: String,
    },
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GatherState {
    New,
    InProgress,
    Complete,
}

/// One connection's state.
pub struct Peer {
    cfg: PeerConfig,
    pc: Option<RTCPeerConnection>,
    locals: Vec<SocketAddr>,
    candidates: Vec<String>,
    gathering: GatherState,
    gathering_waiters: Vec<(u64, Instant)>,
    signaling: SignalingState,
    /// Our current and pending local descriptions, as given (rewritten on read).
    local: Option<Description>,
    pending_local: Option<Description>,
    remote: Option<Description>,
    pending_remote: Option<Description>,
    remote_info: Option<RemoteSdp>,
    pending_remote_info: Option<RemoteSdp>,
    /// The last SDP created by rtc, and what we returned for it.
    last_created: Option<(String, String)>,
    /// What rtc was given as local offer (needed to read the answer's codecs).
    local_offer_for_rtc: Option<String>,
    wanted_direction: Direction,
    pending_direction: Direction,
    media: Media,
    sender: Option<RTCRtpSenderId>,
    events: VecDeque<PeerEvent>,
    media_events: Vec<MediaEvent>,
    connection_state: String,
    ice_state: String,
    connected: bool,
    closed: bool,
    origin_version: u64,
    answer_setup: Option<Setup>,
    /// The last rewritten localDescription and a hash of what it was built
    /// from: the shard refreshes every getter's snapshot after each command
    /// and state change, and rewriting the SDP each time was ~5% of setup CPU.
    local_memo: std::cell::RefCell<Option<(u64, Description)>>,
    /// rtc's next deadline, cached: polling it every loop costs real CPU.
    deadline: Option<Instant>,
    srflx: Option<crate::srflx::SrflxGatherer>,
    stun_out: VecDeque<Transmit>,
    epoch: Instant,
    /// RTCP SR/RR for the audio stream (ours, not rtc's interceptors).
    rtcp: crate::rtcp::Reporter,
    /// Maps `Instant`s to wall time for abs-send-time and RTCP; set by the I/O layer.
    wall: Option<WallAnchor>,
    /// Hang-up and transport-failure detection (see [`crate::hangup`]).
    hangup: crate::hangup::Hangup,
    /// STUN server names the I/O layer is still resolving.
    pending_dns: usize,
    /// The far end's `a=fingerprint`s; its certificate is checked against
    /// them when DTLS completes (crate::fingerprint), not by rtc.
    remote_fingerprints: Vec<crate::fingerprint::Fingerprint>,
    /// The video receive pipeline, when video is enabled and negotiated.
    video: Option<crate::video::receiver::VideoReceiver>,
}

impl Peer {
    /// A new connection whose sockets are already bound at `locals`.
    pub fn new(cfg: PeerConfig, locals: Vec<SocketAddr>, now: Instant) -> Self {
        let ssrc: u32 = rand::random();
        let mut media = Media::new(ssrc, rand::random(), rand::random());
        media.set_rtp_timeout_ticks((cfg.rtp_timeout.as_millis() / 20) as u64);
        media.set_opus_complexity(cfg.opus_complexity);
        if cfg.measure_one_way_delay {
            media.enable_one_way_delay();
        }
        let pending_dns = cfg.stun_hosts.len();
        let candidates = locals
            .iter()
            .enumerate()
            .map(|(i, a)| host_candidate(i as u32 + 1, *a, (locals.len() - i) as u32))
            .collect();
        Peer {
            cfg,
            pc: None,
            locals,
            candidates,
            gathering: GatherState::New,
            gathering_waiters: vec![],
            signaling: SignalingState::Stable,
            local: None,
            pending_local: None,
            remote: None,
            pending_remote: None,
            remote_info: None,
            pending_remote_info: None,
            last_created: None,
            local_offer_for_rtc: None,
            wanted_direction: Direction::SendRecv,
            pending_direction: Direction::SendRecv,
            media,
            sender: None,
            events: VecDeque::new(),
            media_events: Vec::new(),
            connection_state: "new".into(),
            ice_state: "new".into(),
            connected: false,
            closed: false,
            origin_version: 0,
            answer_setup: None,
            local_memo: std::cell::RefCell::new(None),
            deadline: None,
            srflx: None,
            stun_out: VecDeque::new(),
            epoch: now,
            rtcp: crate::rtcp::Reporter::new(ssrc, rand::random()),
            wall: None,
            hangup: crate::hangup::Hangup::default(),
            pending_dns,
            remote_fingerprints: Vec::new(),
            video: None,
        }
    }

    /// How this peer turns `Instant`s into wall-clock time for one-way delay
    /// (abs-send-time). Without it nothing is stamped or measured.
    pub fn set_wall_anchor(&mut self, anchor: WallAnchor) {
        self.wall = Some(anchor);
    }

    /// Local socket addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.locals
    }

    /// W3C `signalingState`.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// Media pipeline (for play/record/pcm commands).
    pub fn media_mut(&mut self) -> &mut Media {
        &mut self.media
    }

    /// Media pipeline.
    pub fn media(&self) -> &Media {
        &self.media
    }

    /// RTCP reports: what the far end says about our stream.
    pub fn rtcp(&self) -> &crate::rtcp::Reporter {
        &self.rtcp
    }

    /// NTP time for RTCP at `now`: wall clock through the shard's anchor.
    /// Without one (core tests) the peer's epoch serves as the origin; only
    /// differences of our own readings matter for round-trip time.
    fn ntp(&self, now: Instant) -> u64 {
        crate::rtcp::ntp_from_unix(match self.wall {
            Some(w) => w.unix_time(now),
            None => now.saturating_duration_since(self.epoch),
        })
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn build_pc(&mut self, now: Instant, remote_offer: Option<&RemoteSdp>) -> Result<()> {
        if self.pc.is_some() {
            return Ok(());
        }
        let mut me = MediaEngine::default();
        let mut primary: Option<CodecKind> = None;
        match remote_offer {
            // Answerer: one engine built from the offer, with the offer's payload
            // types and order, and a single telephone-event (the one matching
            // the first common codec's clock, else the first offered): two
            // telephone-event rates in one engine yield a duplicate PT.
            Some(offer) => {
                for c in &offer.codecs {
                    let Some(kind) = CodecKind::from_name(&c.name, c.clock_rate) else {
                        continue;
                    };
                    if !self.cfg.codecs.contains(&kind) {
                        continue;
                    }
                    primary.get_or_insert(kind);
                    register(
                        &mut me,
                        kind_mime(kind),
                        c.clock_rate,
                        c.channels,
                        c.fmtp.clone().unwrap_or_default(),
                        c.pt,
                    )?;
                }
                let Some(primary) = primary else {
                    return Err(sdp::SdpError::NoCommonCodec(format!(
                        "no common audio codec: offer has {}; this connection allows {}",
                        offer
                            .codecs
                            .iter()
                            .map(|c| format!("{}/{}", c.name, c.clock_rate))
                            .collect::<Vec<_>>()
                            .join(", "),
                        self.cfg
                            .codecs
                            .iter()
                            .map(|k| k.mime_name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .into());
                };
                let te = intake::chosen_telephone_event(offer, primary);
                if let Some(te) = te {
                    register(
                        &mut me,
                        MIME_TYPE_TELEPHONE_EVENT,
                        te.clock_rate,
                        0,
                        te.fmtp.clone().unwrap_or_else(|| "0-15".into()),
                        te.pt,
                    )?;
                }
            }
            None => {
                for kind in &self.cfg.codecs {
                    primary.get_or_insert(*kind);
                    match kind {
                        CodecKind::Opus => register(
                            &mut me,
                            MIME_TYPE_OPUS,
                            48000,
                            2,
                            "minptime=10;useinbandfec=1".into(),
                            111,
                        )?,
                        CodecKind::Pcmu => {
                            register(&mut me, MIME_TYPE_PCMU, 8000, 0, String::new(), 0)?
                        }
                        CodecKind::Pcma => {
                            register(&mut me, MIME_TYPE_PCMA, 8000, 0, String::new(), 8)?
                        }
                    }
                }
                // Offer both rates: 8000 for G.711 peers, 48000 for Opus peers.
                register(
                    &mut me,
                    MIME_TYPE_TELEPHONE_EVENT,
                    8000,
                    0,
                    "0-15".into(),
                    101,
                )?;
                if self.cfg.codecs.contains(&CodecKind::Opus) {
                    register(
                        &mut me,
                        MIME_TYPE_TELEPHONE_EVENT,
                        48000,
                        0,
                        "0-15".into(),
                        110,
                    )?;
                }
            }
        }
        let primary =
            primary.ok_or_else(|| Error::InvalidArgument("no codecs configured".into()))?;
        if let Some(v) = &self.cfg.video {
            crate::video::negotiate::register(
                &mut me,
                remote_offer.and_then(|o| o.video.as_ref()),
                v,
            )?;
        }
        if self.cfg.measure_one_way_delay {
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
        let role = match remote_offer.and_then(|o| o.setup) {
            Some(Setup::Passive) => RTCDtlsRole::Client,
            _ => RTCDtlsRole::Server,
        };
        let se = SettingEngineBuilder::new()
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
                    .with_certificates(vec![crate::certificate::shared()?])
                    .build(),
            )
            .with_setting_engine(se)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .build(now)?;
        let _ = primary;
        let track = MediaStreamTrack::new(
            "sipwire".to_string(),
            "sipwire-audio".to_string(),
            "sipwire-audio".to_string(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(self.media.ssrc()),
                    ..Default::default()
                },
                // No codec here: a codec on the encoding would become the
                // transceiver's only preference and drop telephone-event.
                ..Default::default()
            }],
        );
        self.sender = Some(pc.add_track(track)?);
        if remote_offer.is_none() && self.cfg.video.is_some() {
            crate::video::negotiate::add_transceiver(&mut pc)?;
        }
        for c in &self.candidates {
            pc.add_local_candidate(RTCIceCandidateInit {
                candidate: c.clone(),
                ..Default::default()
            })?;
        }
        self.pc = Some(pc);
        self.deadline = None;
        Ok(())
    }

    fn pc(&mut self) -> Result<&mut RTCPeerConnection> {
        self.pc
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no description applied yet".into()))
    }

    /// Wanted local direction for the next offer or answer (hold = `sendonly`).
    pub fn set_direction(&mut self, d: Direction) -> Result<()> {
        self.check_open()?;
        self.wanted_direction = d;
        Ok(())
    }

    /// W3C `createOffer`.
    pub fn create_offer(&mut self, now: Instant, ice_restart: bool) -> Result<Description> {
        self.check_open()?;
        if self.signaling == SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState(
                "createOffer called in have-remote-offer".into(),
            ));
        }
        self.build_pc(now, None)?;
        if ice_restart {
            self.pc()?.restart_ice();
        }
        let offer = self.pc()?.create_offer(None)?;
        let dir = self.wanted_direction;
        let out = self.finish_local(&offer.sdp, dir, None, false);
        self.last_created = Some((offer.sdp, out.clone()));
        Ok(Description {
            sdp_type: SdpType::Offer,
            sdp: out,
        })
    }

    /// W3C `createAnswer`.
    pub fn create_answer(&mut self, _now: Instant) -> Result<Description> {
        self.check_open()?;
        if self.signaling != SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState(format!(
                "createAnswer called in {}",
                self.signaling.as_str()
            )));
        }
        let answer = self.pc()?.create_answer(None)?;
        let info = self
            .pending_remote_info
            .clone()
            .ok_or_else(|| Error::InvalidState("no remote offer".into()))?;
        let dir = answer_direction(self.wanted_direction, info.direction);
        let setup = sdp::answer_setup(info.setup);
        self.answer_setup = Some(setup);
        let out = self.finish_local(&answer.sdp, dir, Some(&info), true);
        self.last_created = Some((answer.sdp, out.clone()));
        Ok(Description {
            sdp_type: SdpType::Answer,
            sdp: out,
        })
    }

    fn finish_local(
        &mut self,
        sdp_text: &str,
        dir: Direction,
        offer: Option<&RemoteSdp>,
        is_answer: bool,
    ) -> String {
        self.origin_version += 1;
        let rw = LocalRewrite {
            candidates: self.candidates.clone(),
            end_of_candidates: self.gathering == GatherState::Complete,
            default_addr: sdp::default_candidate(&self.candidates),
            direction: Some(dir),
            setup: if is_answer { self.answer_setup } else { None },
            rejected_sections: offer
                .map(|o| o.rejected_sections.clone())
                .unwrap_or_default(),
            strip_bundle: offer.is_some_and(|o| !o.had_bundle),
            strip_mid: false,
            dedupe_telephone_event: true,
        };
        let out = sdp::rewrite_local(sdp_text, &rw);
        match (&self.cfg.video, offer.map(|o| o.video.as_ref())) {
            (None, _) | (Some(_), Some(None)) => out,
            (Some(v), None) => crate::video::negotiate::set_direction(&out, v.direction),
            (Some(v), Some(Some(rv))) => crate::video::negotiate::set_direction(
                &out,
                crate::video::negotiate::answer_direction(v, rv.direction),
            ),
        }
    }

    /// W3C `setLocalDescription`; `None` = implicit (create per state).
    pub fn set_local_description(&mut self, now: Instant, desc: Option<Description>) -> Result<()> {
        self.check_open()?;
        let desc = match desc {
            Some(d) => d,
            None => match self.signaling {
                SignalingState::HaveRemoteOffer => self.create_answer(now)?,
                _ => self.create_offer(now, false)?,
            },
        };
        match (desc.sdp_type, self.signaling) {
            (SdpType::Rollback, SignalingState::HaveLocalOffer) => {
                self.rtc_rollback(now, true)?;
                self.hangup.disarm_early_checks();
                self.pending_local = None;
                self.set_signaling(SignalingState::Stable);
                Ok(())
            }
            (SdpType::Rollback, _) => Err(Error::InvalidState(format!(
                "cannot roll back a local description in {}",
                self.signaling.as_str()
            ))),
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveLocalOffer) => {
                let for_rtc = self.sdp_for_rtc(&desc.sdp);
                self.build_pc(now, None)?;
                let d = RTCSessionDescription::offer(for_rtc.clone())?;
                self.pc()?.set_local_description(now, d)?;
                if self.remote.is_none() {
                    self.hangup.arm_early_checks(&for_rtc);
                }
                self.local_offer_for_rtc = Some(for_rtc);
                self.pending_direction =
                    parse_direction(&desc.sdp).unwrap_or(self.wanted_direction);
                self.pending_local = Some(desc);
                self.start_gathering(now);
                self.set_signaling(SignalingState::HaveLocalOffer);
                Ok(())
            }
            (SdpType::Answer | SdpType::Pranswer, SignalingState::HaveRemoteOffer) => {
                let for_rtc = self.sdp_for_rtc(&desc.sdp);
                let d = RTCSessionDescription::answer(for_rtc)?;
                self.pc()?.set_local_description(now, d)?;
                let info = self
                    .pending_remote_info
                    .take()
                    .ok_or_else(|| Error::InvalidState("no remote offer".into()))?;
                let dir = parse_direction(&desc.sdp).unwrap_or(Direction::SendRecv);
                self.hangup.answered_first();
                // What we send is what our answer lists, not everything offered.
                let ours = sdp::normalize_remote(&desc.sdp, SdpKind::Answer).ok();
                self.apply_negotiation(ours.as_ref().unwrap_or(&info), &info, dir)?;
                self.apply_video(&info);
                self.remote_info = Some(info);
                self.remote = self.pending_remote.take();
                self.local = Some(desc);
                self.start_gathering(now);
                self.set_signaling(SignalingState::Stable);
                Ok(())
            }
            (t, s) => Err(Error::InvalidState(format!(
                "setLocalDescription({}) is not allowed in {}",
                t.as_str(),
                s.as_str()
            ))),
        }
    }

    /// W3C `setRemoteDescription`.
    pub fn set_remote_description(&mut self, now: Instant, desc: Description) -> Result<()> {
        self.check_open()?;
        match (desc.sdp_type, self.signaling) {
            (SdpType::Rollback, SignalingState::HaveRemoteOffer) => {
                self.rtc_rollback(now, false)?;
                self.pending_remote = None;
                self.pending_remote_info = None;
                self.set_signaling(SignalingState::Stable);
                Ok(())
            }
            (SdpType::Rollback, _) => Err(Error::InvalidState(format!(
                "cannot roll back a remote description in {}",
                self.signaling.as_str()
            ))),
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveRemoteOffer) => {
                // The same checks as validate_offer (crate::intake).
                let intake::PreparedOffer { info, for_rtc } = intake::prepare_offer_with(
                    &desc.sdp,
                    &self.cfg.codecs,
                    self.cfg.video.as_ref(),
                )?;
                self.warn_skipped(&info);
                self.build_pc(now, Some(&info))?;
                let d = RTCSessionDescription::offer(for_rtc)?;
                self.pc()?.set_remote_description(now, d)?;
                self.remote_fingerprints = info.fingerprints.clone();
                self.pending_remote_info = Some(info);
                self.pending_remote = Some(desc);
                self.set_signaling(SignalingState::HaveRemoteOffer);
                Ok(())
            }
            (SdpType::Answer | SdpType::Pranswer, SignalingState::HaveLocalOffer) => {
                let (info, for_rtc) =
                    intake::prepare_answer_with(&desc.sdp, self.cfg.video.as_ref())?;
                self.apply_video(&info);
                self.warn_skipped(&info);
                let d = RTCSessionDescription::answer(for_rtc)?;
                self.pc()?.set_remote_description(now, d)?;
                self.remote_fingerprints = info.fingerprints.clone();
                let our_offer = sdp::normalize_remote(
                    self.local_offer_for_rtc.as_deref().unwrap_or_default(),
                    SdpKind::Offer,
                )
                .ok();
                let answer_dir = info.direction.reverse();
                let dir = intersect(self.pending_direction, answer_dir);
                match our_offer {
                    Some(o) => self.apply_negotiation(&info, &o, dir)?,
                    None => self.apply_negotiation(&info, &info, dir)?,
                }
                self.remote_info = Some(info);
                self.remote = Some(desc);
                self.local = self.pending_local.take();
                self.set_signaling(SignalingState::Stable);
                self.replay_early_checks(now);
                Ok(())
            }
            (t, s) => Err(Error::InvalidState(format!(
                "setRemoteDescription({}) is not allowed in {}",
                t.as_str(),
                s.as_str()
            ))),
        }
    }

    fn warn_skipped(&mut self, info: &RemoteSdp) {
        // Already bounded and coded by the normaliser.
        for w in &info.warnings {
            self.events.push_back(PeerEvent::Warning(w.clone()));
        }
    }

    fn rtc_rollback(&mut self, now: Instant, local: bool) -> Result<()> {
        let rb: RTCSessionDescription =
            serde_json::from_value(serde_json::json!({"type": "rollback", "sdp": ""}))
                .map_err(|e| Error::Rtc(e.to_string()))?;
        if let Some(pc) = self.pc.as_mut() {
            if local {
                pc.set_local_description(now, rb)?;
            } else {
                pc.set_remote_description(now, rb)?;
            }
        }
        Ok(())
    }

    /// The codecs of `answer` decide what we send (its first common codec) and
    /// what we may receive; payload types are the answer's.
    fn apply_negotiation(
        &mut self,
        answer: &RemoteSdp,
        offer: &RemoteSdp,
        dir: Direction,
    ) -> Result<()> {
        let mut recv = RecvCodecs::default();
        let mut send_kind = None;
        for c in &answer.codecs {
            if c.name.eq_ignore_ascii_case("telephone-event") {
                recv.telephone_event.push((c.pt, c.clock_rate));
                continue;
            }
            if let Some(kind) = CodecKind::from_name(&c.name, c.clock_rate) {
                if self.cfg.codecs.contains(&kind) {
                    recv.audio.push((c.pt, kind));
                    if send_kind.is_none() {
                        send_kind = Some((kind, c.pt));
                    }
                }
            }
        }
        let (kind, pt) = send_kind.ok_or_else(|| {
            sdp::SdpError::NoCommonCodec("the answer has no codec this connection supports".into())
        })?;
        let te = recv
            .telephone_event
            .iter()
            .copied()
            .min_by_key(|(_, rate)| (*rate != kind.clock_rate()) as u8);
        // Receive every format either side listed (RFC 3264 §5.1: the offerer
        // must be ready for all it offered). Chromium answers PCMU-only after
        // setCodecPreferences yet sends Opus on the PT our offer gave it.
        for c in &offer.codecs {
            if recv.audio.iter().any(|(p, _)| *p == c.pt)
                || recv.telephone_event.iter().any(|(p, _)| *p == c.pt)
            {
                continue;
            }
            if c.name.eq_ignore_ascii_case("telephone-event") {
                recv.telephone_event.push((c.pt, c.clock_rate));
            } else if let Some(kind) = CodecKind::from_name(&c.name, c.clock_rate) {
                if self.cfg.codecs.contains(&kind) {
                    recv.audio.push((c.pt, kind));
                }
            }
        }
        self.media.configure(
            Some(SendCodec {
                kind,
                pt,
                telephone_event: te,
            }),
            recv,
        )?;
        self.media.set_direction(dir);
        // The answer's id is the negotiated one, for both directions (RFC 8285).
        let ext_id =
            sdp::extmap_id(&answer.sdp, ABS_SEND_TIME_URI).and_then(|id| u8::try_from(id).ok());
        self.media.set_abs_send_time_id(ext_id);
        Ok(())
    }

    /// The SDP handed to rtc for a local description: what rtc created when the
    /// caller passed our text back unchanged, else the caller's text with our
    /// additions undone (rtc must always see `sendrecv` and no rejected sections).
    fn sdp_for_rtc(&self, given: &str) -> String {
        if let Some((raw, ours)) = &self.last_created {
            if ours == given {
                return raw.clone();
            }
        }
        force_sendrecv(&sdp::strip_rejected_sections(given))
    }

    fn start_gathering(&mut self, now: Instant) {
        if self.gathering != GatherState::New {
            return;
        }
        self.gathering = GatherState::InProgress;
        self.events
            .push_back(PeerEvent::IceGatheringState("gathering"));
        if self.cfg.ice_transport_policy == crate::config::IceTransportPolicy::Relay {
            // Relay-only with no TURN client yet: nothing may be gathered.
            log::warn!("iceTransportPolicy \"relay\": TURN relay is not supported yet, so no candidates are gathered");
            self.candidates.clear();
            self.complete_gathering();
            return;
        }
        for c in self.candidates.clone() {
            self.events.push_back(PeerEvent::IceCandidate(Some(c)));
        }
        if self.cfg.stun_servers.is_empty() && self.pending_dns == 0 {
            self.complete_gathering();
        } else {
            let mut g = crate::srflx::SrflxGatherer::new(
                &self.locals,
                &self.cfg.stun_servers,
                now,
                self.cfg.ice_gathering_timeout,
            );
            g.expect(self.pending_dns);
            self.srflx = Some(g);
            self.pump_srflx(now);
        }
    }

    /// The I/O layer resolved (or failed to resolve) a STUN server named in
    /// the configuration. An unresolvable name is a warning and a missing
    /// candidate type, never an error.
    /// `addrs` are every address the name resolved to; the first of a family
    /// we have a socket for is used.
    pub fn ice_server_resolved(&mut self, now: Instant, url: &str, addrs: &[SocketAddr]) {
        if self.pending_dns == 0 || self.closed {
            return;
        }
        self.pending_dns -= 1;
        let addr = addrs
            .iter()
            .find(|a| self.locals.iter().any(|l| l.is_ipv4() == a.is_ipv4()))
            .copied();
        match addr {
            Some(a) => self.cfg.stun_servers.push(a),
            None => {
                let message =
                    format!("cannot resolve ICE server {url}: no srflx candidates from it");
                log::warn!("{message}");
                self.events.push_back(PeerEvent::CodedWarning {
                    code: "ice-server-unresolved",
                    message,
                });
            }
        }
        if let Some(g) = self.srflx.as_mut() {
            g.resolved(&self.locals, addr, now);
            self.pump_srflx(now);
        }
    }

    fn pump_srflx(&mut self, now: Instant) {
        let Some(g) = self.srflx.as_mut() else { return };
        while let Some((local, remote, data)) = g.poll_transmit(now) {
            self.stun_out.push_back(Transmit {
                local,
                remote,
                data: BytesMut::from(&data[..]),
            });
        }
        if g.is_done(now) {
            self.srflx = None;
            self.complete_gathering();
        }
    }

    fn add_srflx(&mut self, r: crate::srflx::Reflexive) {
        let line = format!(
            "candidate:{} 1 udp {} {} {} typ srflx raddr {} rport {}",
            100 + self.candidates.len(),
            (100u32 << 24) | (65535 << 8) | 255,
            r.mapped.ip(),
            r.mapped.port(),
            r.local.ip(),
            r.local.port()
        );
        if self
            .candidates
            .iter()
            .any(|c| c.contains(&format!(" {} {} typ srflx", r.mapped.ip(), r.mapped.port())))
        {
            return;
        }
        if let Some(pc) = self.pc.as_mut() {
            let init = RTCIceCandidateInit {
                candidate: line.clone(),
                url: Some(format!("stun:{}", r.server)),
                ..Default::default()
            };
            if let Err(e) = pc.add_local_candidate(init) {
                log::warn!("srflx candidate rejected by ICE: {e}");
                return;
            }
        }
        self.candidates.push(line.clone());
        self.events.push_back(PeerEvent::IceCandidate(Some(line)));
    }

    fn complete_gathering(&mut self) {
        if self.gathering == GatherState::Complete {
            return;
        }
        self.gathering = GatherState::Complete;
        if let Some(pc) = self.pc.as_mut() {
            let _ = pc.add_local_candidate(RTCIceCandidateInit::default());
        }
        self.events.push_back(PeerEvent::IceCandidate(None));
        self.events
            .push_back(PeerEvent::IceGatheringState("complete"));
        for (id, _) in self.gathering_waiters.drain(..) {
            self.events.push_back(PeerEvent::GatheringWaitDone(id));
        }
    }

    /// SIP extension: report [`PeerEvent::GatheringWaitDone`] with `id` once
    /// gathering is complete or `timeout` has passed, whichever is first.
    pub fn wait_gathering(&mut self, now: Instant, id: u64, timeout: Duration) {
        if self.gathering == GatherState::Complete || self.closed {
            self.events.push_back(PeerEvent::GatheringWaitDone(id));
        } else {
            self.gathering_waiters.push((id, now + timeout));
        }
    }

    /// W3C `iceGatheringState`.
    pub fn ice_gathering_state(&self) -> &'static str {
        match self.gathering {
            GatherState::New => "new",
            GatherState::InProgress => "gathering",
            GatherState::Complete => "complete",
        }
    }

    /// W3C `localDescription`, with every candidate gathered so far.
    pub fn local_description(&self) -> Option<Description> {
        let d = self.pending_local.as_ref().or(self.local.as_ref())?;
        let is_answer = d.sdp_type != SdpType::Offer;
        let offer = if is_answer {
            self.remote_info.as_ref()
        } else {
            None
        };
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (d.sdp_type as u8).hash(&mut h);
            d.sdp.hash(&mut h);
            self.candidates.hash(&mut h);
            (self.gathering == GatherState::Complete).hash(&mut h);
            if is_answer {
                self.answer_setup.hash(&mut h);
                offer
                    .map(|o| (o.rejected_sections.len(), o.had_bundle))
                    .hash(&mut h);
            }
            h.finish()
        };
        if let Some((k, v)) = &*self.local_memo.borrow() {
            if *k == key {
                return Some(v.clone());
            }
        }
        let rw = LocalRewrite {
            candidates: self.candidates.clone(),
            end_of_candidates: self.gathering == GatherState::Complete,
            default_addr: sdp::default_candidate(&self.candidates),
            direction: None,
            setup: if is_answer { self.answer_setup } else { None },
            rejected_sections: offer
                .map(|o| o.rejected_sections.clone())
                .unwrap_or_default(),
            strip_bundle: offer.is_some_and(|o| !o.had_bundle),
            strip_mid: false,
            dedupe_telephone_event: true,
        };
        let out = Description {
            sdp_type: d.sdp_type,
            sdp: sdp::rewrite_local(&d.sdp, &rw),
        };
        *self.local_memo.borrow_mut() = Some((key, out.clone()));
        Some(out)
    }

    /// W3C `remoteDescription`.
    pub fn remote_description(&self) -> Option<Description> {
        self.pending_remote.clone().or_else(|| self.remote.clone())
    }

    /// W3C `addIceCandidate` (trickle). `.local` names are skipped, not fatal.
    pub fn add_ice_candidate(&mut self, candidate: &str) -> Result<()> {
        self.check_open()?;
        let c = candidate.trim().trim_start_matches("a=");
        if c.is_empty() {
            return Ok(()); // end-of-candidates
        }
        if c.split_whitespace()
            .nth(4)
            .is_some_and(|h| h.ends_with(".local"))
        {
            self.events.push_back(PeerEvent::Warning(format!(
                "skipped remote candidate (mdns: .local names are not resolved): {c}"
            )));
            return Ok(());
        }
        if self.remote.is_none() && self.pending_remote.is_none() {
            return Err(Error::InvalidState(
                "addIceCandidate before setRemoteDescription".into(),
            ));
        }
        self.pc()?
            .add_remote_candidate(RTCIceCandidateInit {
                candidate: c.to_string(),
                ..Default::default()
            })
            .map_err(|e| Error::InvalidArgument(format!("bad candidate {c:?}: {e}")))
    }

    /// W3C `restartIce`: the next offer carries new credentials.
    pub fn restart_ice(&mut self) -> Result<()> {
        self.check_open()?;
        if let Some(pc) = self.pc.as_mut() {
            pc.restart_ice();
        }
        Ok(())
    }

    /// Internal failure (a caught panic): report `failed`, then close.
    pub fn fail(&mut self) {
        if self.closed {
            return;
        }
        self.pc = None; // its state is suspect after a panic
        self.connection_state = "failed".into();
        self.events
            .push_back(PeerEvent::ConnectionState("failed".into()));
        self.close();
    }

    /// W3C `close` at `now`: tells the far end first (RTCP BYE, DTLS
    /// `close_notify`; they wait in [`Peer::poll_transmit`] for the caller's
    /// next flush), then [`Peer::close`].
    pub fn close_at(&mut self, now: Instant) {
        if !self.closed {
            self.shutdown_transport(now);
        }
        self.close();
    }

    /// Send RTCP BYE (when media was up) and DTLS `close_notify`, then stop
    /// rtc. What they produce is queued for [`Peer::poll_transmit`]: rtc
    /// routes it at `close()`, while it still knows the selected pair.
    fn shutdown_transport(&mut self, now: Instant) {
        let bye = if self.connected && self.pc.is_some() {
            let ntp = self.ntp(now);
            let (sender, reception) = (self.media.sender_info(), self.media.reception());
            Some(self.rtcp.goodbye(ntp, sender, reception))
        } else {
            None
        };
        let Some(pc) = self.pc.as_mut() else { return };
        if let Some(pkts) = bye {
            let msg = TaggedRTCMessage {
                now,
                message: RTCMessage::RtcpPacket(String::new(), pkts),
            };
            if let Err(e) = pc.handle_write(msg) {
                log::debug!("RTCP BYE: {e}");
            }
        }
        if let Err(e) = pc.close() {
            log::debug!("rtc close: {e}");
        }
        while let Some(m) = pc.poll_write() {
            self.stun_out.push_back(Transmit {
                local: m.transport.local_addr,
                remote: m.transport.peer_addr,
                data: m.message,
            });
        }
        self.connected = false;
    }

    /// The transport is gone while the connection stays open (the far end
    /// hung up, or DTLS failed): say why with a coded `warning`, tear the
    /// transport down and report `failed` (see [`crate::hangup`]).
    fn transport_lost(&mut self, now: Instant, code: &'static str, message: String) {
        if self.closed || !self.hangup.mark_down(code) {
            return;
        }
        self.events
            .push_back(PeerEvent::CodedWarning { code, message });
        self.shutdown_transport(now);
        self.deadline = None;
        if self.connection_state != "failed" {
            self.connection_state = "failed".into();
            self.events
                .push_back(PeerEvent::ConnectionState("failed".into()));
        }
    }

    /// Feed the checks answered before the answer into rtc now that it has
    /// the remote credentials (see [`crate::early_checks`]).
    fn replay_early_checks(&mut self, now: Instant) {
        let kept = self.hangup.take_early_checks();
        if kept.is_empty() {
            return;
        }
        for (local, remote, data) in kept {
            self.feed_rtc(now, local, remote, &data);
        }
        self.deadline = None;
        self.drain_rtc(now);
    }

    fn feed_rtc(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        let Some(pc) = self.pc.as_mut() else { return };
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
        if let Err(e) = pc.handle_read(msg) {
            // Garbage from the network is dropped, never fatal.
            log::debug!("dropping datagram from {remote}: {e}");
        }
    }

    /// W3C `close`. Idempotent.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(mut pc) = self.pc.take() {
            let _ = pc.close();
        }
        self.media.stop_recording(None);
        let mut ev = Vec::new();
        self.media.stop_playback(&mut ev);
        self.events.extend(ev.into_iter().map(PeerEvent::Media));
        for (id, _) in self.gathering_waiters.drain(..) {
            self.events.push_back(PeerEvent::GatheringWaitDone(id));
        }
        self.signaling = SignalingState::Closed;
        self.ice_state = "closed".into();
        self.connection_state = "closed".into();
        self.connected = false;
        self.events
            .push_back(PeerEvent::IceConnectionState("closed".into()));
        self.events
            .push_back(PeerEvent::ConnectionState("closed".into()));
        self.events.push_back(PeerEvent::SignalingState("closed"));
    }

    fn set_signaling(&mut self, s: SignalingState) {
        if self.signaling != s {
            self.signaling = s;
            self.events.push_back(PeerEvent::SignalingState(s.as_str()));
        }
    }

    /// The configuration this connection was created with.
    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }

    /// W3C `connectionState`.
    pub fn connection_state(&self) -> &str {
        &self.connection_state
    }

    /// W3C `iceConnectionState`.
    pub fn ice_connection_state(&self) -> &str {
        &self.ice_state
    }

    /// A datagram arrived on one of our sockets.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if let Some(g) = self.srflx.as_mut() {
            if let Some(answer) = g.handle(local, remote, data) {
                if let Some(r) = answer {
                    self.add_srflx(r);
                }
                self.pump_srflx(now);
                return;
            }
        }
        if self.pc.is_none() || self.hangup.is_down() {
            return;
        }
        if matches!(data.first(), Some(128..=191)) {
            self.hangup.media_from(local, remote);
        } else if self.hangup.probe_answer(data) {
            return;
        }
        if let Some(resp) = self.hangup.early_check(local, remote, data) {
            if let Some(resp) = resp {
                self.stun_out.push_back(Transmit {
                    local,
                    remote,
                    data: BytesMut::from(&resp[..]),
                });
            }
            return;
        }
        self.feed_rtc(now, local, remote, data);
        // RTP/RTCP (RFC 7983: first byte 128..=191) only ever adds rtc timers
        // that are >= 1 s away (RTCP reports), so media_tick re-reads the
        // deadline every few ticks instead of after every packet: querying
        // rtc's poll_timeout walks its whole handler chain.
        if !matches!(data.first(), Some(128..=191)) {
            self.deadline = None;
        }
        self.drain_rtc(now);
        if matches!(data.first(), Some(20..=63)) {
            // DTLS (RFC 7983): a close_notify closes rtc's DTLS transport
            // without any event or state change of its own.
            self.check_dtls_closed(now);
        }
        if !self.connected {
            // When this datagram completes ICE, the event that starts rtc's
            // DTLS client (drained above) queues its ClientHello where only
            // handle_timeout collects it: without this it waited for the next
            // ICE check timer, ~10 ms of every call setup.
            if let Some(pc) = self.pc.as_mut() {
                if let Err(e) = pc.handle_timeout(now) {
                    log::debug!("rtc timeout handling: {e}");
                }
            }
            self.drain_rtc(now);
        }
    }

    /// The far end said BYE for the stream we receive: probe whether it is
    /// still there (see [`crate::hangup`]).
    fn on_remote_bye(&mut self, now: Instant) {
        let creds = match (self.local.as_ref(), self.remote.as_ref()) {
            (Some(l), Some(r)) => crate::hangup::ProbeCredentials::from_sdp(&l.sdp, &r.sdp, true),
            _ => None,
        };
        self.hangup.on_bye(now, creds);
        self.hangup_timers(now);
    }

    fn hangup_timers(&mut self, now: Instant) {
        let (sends, gone) = self.hangup.poll(now);
        for (local, remote, data) in sends {
            self.stun_out.push_back(Transmit {
                local,
                remote,
                data: BytesMut::from(&data[..]),
            });
        }
        if gone {
            self.transport_lost(
                now,
                crate::hangup::REMOTE_CLOSED,
                format!(
                    "the far end sent RTCP BYE and did not answer connectivity checks for {} ms",
                    crate::hangup::PROBE_WAIT.as_millis()
                ),
            );
        }
    }

    fn check_dtls_closed(&mut self, now: Instant) {
        let Some(id) = self.sender else { return };
        let closed = self
            .pc
            .as_mut()
            .and_then(|pc| pc.rtp_sender(id))
            .and_then(|s| s.transport().map(|t| t.state()))
            == Some(RTCDtlsTransportState::Closed);
        if closed {
            self.transport_lost(
                now,
                crate::hangup::REMOTE_CLOSED,
                "the far end closed the connection (DTLS close_notify)".into(),
            );
        }
    }

    /// Next time [`Peer::handle_timeout`] must run.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.deadline.is_none() {
            self.deadline = self.pc.as_mut().and_then(|pc| pc.poll_timeout());
        }
        let w = self
            .gathering_waiters
            .iter()
            .map(|(_, t)| *t)
            .chain(self.srflx.as_ref().and_then(|g| g.poll_timeout()))
            .chain(self.hangup.poll_timeout())
            .min();
        match (self.deadline, w) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Timers fire.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pump_srflx(now);
        self.hangup_timers(now);
        if let Some(pc) = self.pc.as_mut().filter(|_| !self.hangup.is_down()) {
            if self.deadline.is_some_and(|d| d <= now) || self.deadline.is_none() {
                if let Err(e) = pc.handle_timeout(now) {
                    log::debug!("rtc timeout handling: {e}");
                }
                self.deadline = None;
            }
        }
        let mut i = 0;
        while i < self.gathering_waiters.len() {
            if self.gathering_waiters[i].1 <= now {
                let (id, _) = self.gathering_waiters.remove(i);
                self.events.push_back(PeerEvent::GatheringWaitDone(id));
            } else {
                i += 1;
            }
        }
        self.drain_rtc(now);
    }

    /// One 20 ms media step.
    pub fn media_tick(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let mut ev = std::mem::take(&mut self.media_events);
        let mut next = self.media.tick(self.connected, &mut ev);
        while let Some(mut pkt) = next.take() {
            if let Some(wall) = self.wall {
                self.media.stamp_send_time(&mut pkt, wall.unix_time(now));
            }
            if let Some(pc) = self.pc.as_mut() {
                // Straight into the pipeline: RTCRtpSender::write_rtp rebuilds
                // the sender's parameters (codec list, extensions) on every
                // packet just to validate what Media already guarantees (our
                // SSRC, a negotiated PT, only negotiated header extensions).
                let msg = TaggedRTCMessage {
                    now,
                    message: RTCMessage::RtpPacket(String::new(), pkt),
                };
                if let Err(e) = pc.handle_write(msg) {
                    log::debug!("RTP write: {e}");
                }
            }
            next = self.media.next_packet();
        }
        if self.connected && self.rtcp.due(self.media.ticks()) {
            let ntp = self.ntp(now);
            let (sender, reception) = (self.media.sender_info(), self.media.reception());
            if let (Some(pkts), Some(pc)) = (
                self.rtcp.poll(self.media.ticks(), ntp, sender, reception),
                self.pc.as_mut(),
            ) {
                let msg = TaggedRTCMessage {
                    now,
                    message: RTCMessage::RtcpPacket(String::new(), pkts),
                };
                if let Err(e) = pc.handle_write(msg) {
                    log::debug!("RTCP write: {e}");
                }
            }
        }
        if self.video.is_some() {
            self.video_step(now, true);
        }
        if self.media.ticks().is_multiple_of(DEADLINE_REFRESH_TICKS) {
            self.deadline = None;
        }
        self.events.extend(ev.drain(..).map(PeerEvent::Media));
        self.media_events = ev;
    }

    fn drain_rtc(&mut self, now: Instant) {
        let arrival = now.saturating_duration_since(self.epoch);
        let recv_unix = self.wall.map(|w| w.unix_time(now));
        if self.hangup.is_down() {
            return;
        }
        let Some(pc) = self.pc.as_mut() else { return };
        let mut dtls_failure = None;
        while let Some(ev) = pc.poll_event() {
            match ev {
                RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(s) => {
                    let s = s.to_string();
                    if s != self.ice_state {
                        self.ice_state = s.clone();
                        self.events.push_back(PeerEvent::IceConnectionState(s));
                    }
                }
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                    let s = s.to_string();
                    if s == "connected" && !self.hangup.dtls_verified() {
                        // Before any SRTP is read or sent: the handshake just
                        // completed and rtc no longer checks the certificate.
                        let cert = self
                            .sender
                            .and_then(|id| pc.rtp_sender(id))
                            .and_then(|snd| {
                                snd.transport()
                                    .and_then(|t| t.get_remote_certificates().first().cloned())
                            });
                        let fps = &self.remote_fingerprints;
                        match cert.map(|c| crate::fingerprint::verify(&c, fps)) {
                            Some(Ok(())) => self.hangup.set_dtls_verified(),
                            Some(Err(m)) => {
                                dtls_failure = Some(m);
                                break;
                            }
                            None => {
                                dtls_failure =
                                    Some("the peer presented no DTLS certificate".into());
                                break;
                            }
                        }
                    }
                    self.connected = s == "connected";
                    if s != self.connection_state {
                        self.connection_state = s.clone();
                        self.events.push_back(PeerEvent::ConnectionState(s));
                    }
                }
                _ => {}
            }
        }
        if let Some(m) = dtls_failure {
            self.transport_lost(now, crate::hangup::DTLS_FINGERPRINT, m);
            return;
        }
        let mut bye = false;
        let mut ev = std::mem::take(&mut self.media_events);
        while let Some(m) = pc.poll_read() {
            match m.message {
                RTCMessage::RtpPacket(_, pkt) => {
                    if let Some(v) = self
                        .video
                        .as_mut()
                        .filter(|v| v.owns(pkt.header.payload_type))
                    {
                        v.on_rtp(now, &pkt);
                        continue;
                    }
                    if let Some(t) = recv_unix {
                        self.media.record_send_time(&pkt, t);
                    }
                    self.media.on_rtp(&pkt, arrival, &mut ev);
                }
                RTCMessage::RtcpPacket(_, pkts) => {
                    // Same origin as Peer::ntp: wall clock, else the epoch.
                    let ntp = crate::rtcp::ntp_from_unix(recv_unix.unwrap_or(arrival));
                    self.rtcp.on_rtcp(&pkts, ntp);
                    bye |= self
                        .media
                        .reception()
                        .is_some_and(|r| crate::rtcp::Reporter::has_bye_for(&pkts, r.ssrc));
                }
                _ => {}
            }
        }
        self.events.extend(ev.drain(..).map(PeerEvent::Media));
        self.media_events = ev;
        if self.video.is_some() {
            self.video_step(now, false);
        }
        if bye {
            self.on_remote_bye(now);
        }
        if self.hangup.has_early_dtls()
            && matches!(self.ice_state.as_str(), "connected" | "completed")
        {
            // A ClientHello that came with the early checks: rtc takes it now
            // that ICE has a pair, instead of waiting ~100 ms for a resend.
            for (local, remote, data) in self.hangup.take_early_dtls() {
                self.feed_rtc(now, local, remote, &data);
            }
            self.deadline = None;
            self.drain_rtc(now);
        }
    }

    /// Video negotiated (or renegotiated): keep, replace or drop the receiver.
    fn apply_video(&mut self, info: &RemoteSdp) {
        let wanted = match (&self.cfg.video, &info.video) {
            (Some(cfg), Some(v)) if cfg.direction.has_recv() && v.direction.has_send() => {
                Some(v.payloads.clone())
            }
            _ => None,
        };
        match wanted {
            Some(p)
                if self
                    .video
                    .as_ref()
                    .is_some_and(|v| v.payloads() == p.as_slice()) => {}
            Some(p) => {
                self.video = Some(crate::video::receiver::VideoReceiver::new(
                    p,
                    self.media.ssrc(),
                ))
            }
            None => self.video = None,
        }
    }

    /// Video housekeeping: lost frames (on ticks), feedback out, events up.
    fn video_step(&mut self, now: Instant, tick: bool) {
        let Some(v) = self.video.as_mut() else { return };
        if tick {
            v.tick(now);
        }
        for e in v.take_events() {
            self.events.push_back(match e {
                crate::video::receiver::VideoEvent::RecordingFailed(message) => {
                    PeerEvent::CodedWarning {
                        code: "recording-failed",
                        message,
                    }
                }
                crate::video::receiver::VideoEvent::RecordingOverrun => PeerEvent::CodedWarning {
                    code: "recording-overrun",
                    message: "the video recording falls behind; frames are dropped".into(),
                },
            });
        }
        if let (Some(pkts), Some(pc)) = (v.poll_rtcp(), self.pc.as_mut()) {
            let msg = TaggedRTCMessage {
                now,
                message: RTCMessage::RtcpPacket(String::new(), pkts),
            };
            if let Err(e) = pc.handle_write(msg) {
                log::debug!("video RTCP write: {e}");
            }
        }
    }

    /// The video receive pipeline, when video was negotiated.
    pub fn video(&self) -> Option<&crate::video::receiver::VideoReceiver> {
        self.video.as_ref()
    }

    /// Start recording received video to `path` (IVF for VP8, Annex B for
    /// H.264); `on_open` settles once the file is open, or with the reason
    /// it cannot be (no video negotiated, the path cannot be opened).
    pub fn start_video_recording(
        &mut self,
        now: Instant,
        path: String,
        on_open: crate::media::FinishCallback,
    ) {
        let Some(v) = self.video.as_mut() else {
            on_open(Err(
                "no video negotiated: enable `video` in the configuration, and the far end must send video".into(),
            ));
            return;
        };
        v.start_recording(now, crate::recording::start_bytes(path, on_open));
        self.video_step(now, false);
    }

    /// Finish the video recording; `done` settles once it is on disk.
    pub fn stop_video_recording(&mut self, done: crate::media::FinishCallback) {
        match self.video.as_mut() {
            Some(v) => v.stop_recording(Some(done)),
            None => done(Ok(())),
        }
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.stun_out.pop_front() {
            return Some(t);
        }
        let pc = self.pc.as_mut()?;
        let m = pc.poll_write()?;
        Some(Transmit {
            local: m.transport.local_addr,
            remote: m.transport.peer_addr,
            data: m.message,
        })
    }

    /// Queue media events produced outside a tick (e.g. by stop_playback).
    pub fn push_media_events(&mut self, ev: Vec<MediaEvent>) {
        self.events.extend(ev.into_iter().map(PeerEvent::Media));
    }

    /// Next application event.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// Stats as W3C `RTCStatsReport` entries (JSON objects with `id`, `type`, `timestamp`).
    pub fn stats(&mut self, now: Instant, timestamp_ms: f64) -> Vec<serde_json::Value> {
        let transport = self
            .pc
            .as_mut()
            .map(|pc| crate::stats::transport_entries(pc, self.sender, now))
            .unwrap_or_default();
        crate::stats::report(self, transport, timestamp_ms)
    }

    /// Remote info of the current negotiation.
    pub fn remote_info(&self) -> Option<&RemoteSdp> {
        self.remote_info.as_ref()
    }

    /// Our candidates.
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }
}

fn kind_mime(k: CodecKind) -> &'static str {
    match k {
        CodecKind::Opus => MIME_TYPE_OPUS,
        CodecKind::Pcmu => MIME_TYPE_PCMU,
        CodecKind::Pcma => MIME_TYPE_PCMA,
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

/// An RFC 8445 host candidate line (without `a=`). Priority: type preference
/// 126 (host), local preference by bind order, component 1.
fn host_candidate(foundation: u32, addr: SocketAddr, local_pref: u32) -> String {
    let priority = (126u32 << 24) | (local_pref.min(65535) << 8) | 255;
    format!(
        "candidate:{foundation} 1 udp {priority} {} {} typ host",
        addr.ip(),
        addr.port()
    )
}

fn parse_direction(sdp_text: &str) -> Option<Direction> {
    let mut in_audio = false;
    for line in sdp_text.lines() {
        let line = line.trim();
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio");
        } else if in_audio {
            if let Some(d) = line.strip_prefix("a=").and_then(Direction::parse) {
                return Some(d);
            }
        }
    }
    None
}

fn force_sendrecv(sdp_text: &str) -> String {
    sdp::set_direction(sdp_text, Direction::SendRecv)
}

/// Check a remote offer the way `setRemoteDescription` would, without a
/// connection: SIP uses it to answer 488 before accepting a call.
///
/// ```
/// use sipwire::{audio::codec::CodecKind, peer::validate_offer};
/// let err = validate_offer("not sdp", &[CodecKind::Pcmu]).unwrap_err();
/// assert_eq!(err.code(), "ERR_SDP_PARSE");
/// ```
pub fn validate_offer(sdp_text: &str, codecs: &[CodecKind]) -> Result<RemoteSdp> {
    // The very path setRemoteDescription takes (crate::intake).
    intake::prepare_offer(sdp_text, codecs).map(|p| p.info)
}

/// RFC 3264 §6.1: the answer's direction given what we want and what was offered.
pub fn answer_direction(wanted: Direction, offered: Direction) -> Direction {
    intersect(wanted, offered.reverse())
}

fn intersect(a: Direction, b: Direction) -> Direction {
    match (a.has_send() && b.has_send(), a.has_recv() && b.has_recv()) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}
