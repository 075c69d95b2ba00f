//! One peer connection: W3C signaling over a media transport, the SIP
//! interop policy (SDP normalisation, complete SDP after gathering) and the
//! audio pipeline.
//!
//! A [`Peer`] never touches a socket or a clock: the shard hands it datagrams,
//! timeouts and 20 ms media ticks with the current `Instant`, and drains
//! [`Peer::poll_transmit`] and [`Peer::poll_event`].
//!
//! Its jobs, one module each:
//!
//! | module | job |
//! |---|---|
//! | [`signaling`] | description types, the signaling states and their transition table |
//! | [`negotiation`] | pure: offer + answer + our codecs -> what media sends and receives |
//! | `descriptions` | createOffer/createAnswer, set/get local and remote descriptions, trickle, handing negotiation to media |
//! | `gathering` | host and srflx candidates, gathering state, gathering waits |
//! | `teardown` | close, transport loss (far end hung up, DTLS failure), internal failure |
//! | `rtcp_schedule` | when our RTCP reports go out, and what arrives |
//! | `plain` | calls in the plain profiles (RTP/AVP, SDES-SRTP): their SDP, keys and [`crate::transport::plain::PlainTransport`] |
//! | `plain_video` | video in the plain profiles: its own sockets, SDP section, keys and transport |
//! | this file | the sans-IO surface: datagrams, timers, media ticks, polls |
//!
//! The wire under the media is a [`crate::transport::MediaTransport`]; today
//! [`crate::transport::webrtc::WebRtcTransport`] (ICE + DTLS-SRTP via rtc),
//! which also runs the offer/answer for ICE and DTLS.
//!
//! Direction (hold) is applied by sipwire, not by rtc: rtc always sees
//! `sendrecv` and the negotiated direction gates our own media pipeline. That
//! keeps a hold re-INVITE from touching rtc's transceiver state machine, so
//! ICE and DTLS carry on untouched.

mod descriptions;
mod gathering;
pub mod negotiation;
mod plain;
mod plain_video;
mod rtcp_schedule;
pub mod signaling;
mod teardown;
mod video;

pub use crate::transport::Transmit;
pub use negotiation::{answer_direction, validate_offer};
pub use plain::validate_offer_for;
pub use signaling::{next_state, Apply, Description, SdpType, SignalingState};

use crate::config::PeerConfig;
use crate::delay::WallAnchor;
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::media::{Media, MediaEvent};
use crate::sdp::{Direction, RemoteSdp, Setup};
use crate::transport::webrtc::WebRtcTransport;
use crate::transport::{MediaIn, MediaTransport, TransportEvent};
use bytes::BytesMut;
use gathering::GatherState;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// While media flows, the transport's deadline is re-read every this many
/// ticks (100 ms) rather than after every RTP packet in or out.
const DEADLINE_REFRESH_TICKS: u64 = 5;

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

/// One connection's state.
pub struct Peer {
    cfg: PeerConfig,
    /// Built by the first description (its codecs come from the offer).
    /// Boxed: the engine is ~8.6 KB, and inline it made `Peer` ~14.6 KB, so
    /// the fields the 20 ms tick reads (`closed`, `media`, ...) sat on
    /// scattered cache lines and every move of a `Peer` copied it all.
    transport: Option<Box<WebRtcTransport>>,
    locals: Vec<SocketAddr>,
    /// Plain calls' RTCP sockets at RTP port + 1: `None` until the shard
    /// was asked (see [`Peer::wants_rtcp_sockets`]), empty if none bound.
    rtcp_locals: Option<Vec<SocketAddr>>,
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
    events: VecDeque<PeerEvent>,
    media_events: Vec<MediaEvent>,
    connection_state: String,
    ice_state: String,
    connected: bool,
    closed: bool,
    answer_setup: Option<Setup>,
    /// The last rewritten localDescription and a hash of what it was built
    /// from: the shard refreshes every getter's snapshot after each command
    /// and state change, and rewriting the SDP each time was ~5% of setup CPU.
    local_memo: std::cell::RefCell<Option<(u64, Description)>>,
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
    /// Randomness and DTLS certificate (see [`crate::identity`]).
    identity: Identity,
    /// Set when this call runs RTP/AVP or SDES-SRTP instead of ICE + DTLS
    /// (see `plain`); its transport is then the one [`wire`] returns.
    plain: Option<plain::PlainState>,
    /// The video receive pipeline, when video is enabled and negotiated.
    video: Option<crate::video::receiver::VideoReceiver>,
    /// The video send pipeline, when we send video and it was negotiated.
    video_send: Option<crate::video::sender::VideoSender>,
    /// A plain call's video wire (its own sockets, latch and keys), from
    /// when video may be negotiated until it no longer is (see `plain_video`).
    plain_video: Option<Box<plain_video::PlainVideo>>,
}

/// The media-facing side of the transport: what media and RTCP code use, so
/// that they do not depend on which transport carries them.
fn wire<'a>(
    t: &'a mut Option<Box<WebRtcTransport>>,
    plain: &'a mut Option<plain::PlainState>,
) -> Option<&'a mut dyn MediaTransport> {
    if let Some(p) = plain.as_mut() {
        return Some(&mut p.transport as &mut dyn MediaTransport);
    }
    t.as_deref_mut().map(|t| t as &mut dyn MediaTransport)
}

/// The transport video goes over: a plain call's own video wire once
/// negotiated, else [`wire`] (WebRTC bundles video with the audio).
fn video_wire<'a>(
    t: &'a mut Option<Box<WebRtcTransport>>,
    plain: &'a mut Option<plain::PlainState>,
    plain_video: &'a mut Option<Box<plain_video::PlainVideo>>,
) -> Option<&'a mut dyn MediaTransport> {
    if plain.is_some() {
        return plain_video
            .as_deref_mut()
            .and_then(|v| v.wire())
            .map(|t| t as &mut dyn MediaTransport);
    }
    wire(t, plain)
}

impl Peer {
    /// A new connection whose sockets are already bound at `locals`, with
    /// OS randomness and the process-wide certificate.
    pub fn new(cfg: PeerConfig, locals: Vec<SocketAddr>, now: Instant) -> Self {
        Self::with_identity(cfg, locals, now, Identity::default())
    }

    /// [`Peer::new`] with its randomness and certificate given: with
    /// [`Identity::seeded`] a test's SSRCs, RTP origins and ICE credentials
    /// repeat from run to run.
    ///
    /// ```
    /// use sipwire::{config::PeerConfig, identity::Identity, peer::Peer};
    /// use std::time::Instant;
    /// let at = vec!["127.0.0.1:40000".parse().unwrap()];
    /// let a = Peer::with_identity(PeerConfig::default(), at.clone(), Instant::now(), Identity::seeded(1));
    /// let b = Peer::with_identity(PeerConfig::default(), at, Instant::now(), Identity::seeded(1));
    /// assert_eq!(a.media().ssrc(), b.media().ssrc());
    /// ```
    pub fn with_identity(
        cfg: PeerConfig,
        locals: Vec<SocketAddr>,
        now: Instant,
        identity: Identity,
    ) -> Self {
        let random = &identity.entropy;
        let ssrc = random.u32();
        let mut media = Media::new(ssrc, random.u16(), random.u32());
        media.set_rtp_timeout_ticks((cfg.rtp_timeout.as_millis() / 20) as u64);
        media.set_opus_complexity(cfg.opus_complexity);
        if cfg.measure_one_way_delay {
            media.enable_one_way_delay();
        }
        let pending_dns = cfg.stun_hosts.len();
        let candidates = gathering::host_candidates(&locals);
        let plain_video = plain_video::PlainVideo::for_config(&cfg);
        Peer {
            cfg,
            transport: None,
            locals,
            rtcp_locals: None,
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
            events: VecDeque::new(),
            media_events: Vec::new(),
            connection_state: "new".into(),
            ice_state: "new".into(),
            connected: false,
            closed: false,
            answer_setup: None,
            local_memo: std::cell::RefCell::new(None),
            srflx: None,
            stun_out: VecDeque::new(),
            epoch: now,
            rtcp: crate::rtcp::Reporter::new(ssrc, random.u32()),
            wall: None,
            hangup: crate::hangup::Hangup::default(),
            pending_dns,
            identity,
            plain_video,
            plain: None,
            video: None,
            video_send: None,
        }
    }

    /// How this peer turns `Instant`s into wall-clock time for one-way delay
    /// (abs-send-time). Without it nothing is stamped or measured.
    pub fn set_wall_anchor(&mut self, anchor: WallAnchor) {
        self.wall = Some(anchor);
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

    fn build_transport(&mut self, now: Instant, remote_offer: Option<&RemoteSdp>) -> Result<()> {
        if self.transport.is_some() {
            return Ok(());
        }
        let codecs = negotiation::engine_codecs(&self.cfg.codecs, remote_offer)?;
        let t = WebRtcTransport::new(
            &self.cfg,
            &self.identity,
            &codecs,
            remote_offer,
            self.media.ssrc(),
            &self.candidates,
            now,
        )?;
        self.transport = Some(Box::new(t));
        Ok(())
    }

    fn engine(&mut self) -> Result<&mut WebRtcTransport> {
        self.transport
            .as_deref_mut()
            .ok_or_else(|| Error::InvalidState("no description applied yet".into()))
    }

    /// Feed the checks answered before the answer into rtc now that it has
    /// the remote credentials (see [`crate::early_checks`]).
    fn replay_early_checks(&mut self, now: Instant) {
        let kept = self.hangup.take_early_checks();
        if kept.is_empty() {
            return;
        }
        for (local, remote, data) in kept {
            self.feed_transport(now, local, remote, &data);
        }
        self.drain_transport(now);
    }

    fn feed_transport(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if let Some(t) = wire(&mut self.transport, &mut self.plain) {
            t.handle_datagram(now, local, remote, data);
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
        if self.plain.is_some() {
            // No ICE, no DTLS, no hang-up probes: straight to the wire rules.
            if !self.closed && self.plain_video_datagram(now, local, remote, data) {
                return;
            }
            if !self.closed {
                self.feed_transport(now, local, remote, data);
                self.drain_transport(now);
            }
            return;
        }
        if self.transport.is_none() || self.hangup.is_down() {
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
        self.feed_transport(now, local, remote, data);
        self.drain_transport(now);
        if let Some(why) =
            wire(&mut self.transport, &mut self.plain).and_then(|t| t.remote_closed())
        {
            self.transport_lost(now, crate::hangup::REMOTE_CLOSED, why.into());
        }
        if !self.connected {
            // When this datagram completes ICE, the event that starts rtc's
            // DTLS client (drained above) queues its ClientHello where only
            // a timer run collects it: without this it waited for the next
            // ICE check timer, ~10 ms of every call setup.
            if let Some(t) = wire(&mut self.transport, &mut self.plain) {
                t.poke(now);
            }
            self.drain_transport(now);
        }
    }

    /// Next time [`Peer::handle_timeout`] must run.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let deadline = wire(&mut self.transport, &mut self.plain).and_then(|t| t.poll_timeout());
        let w = self
            .gathering_waiters
            .iter()
            .map(|(_, t)| *t)
            .chain(self.srflx.as_ref().and_then(|g| g.poll_timeout()))
            .chain(self.hangup.poll_timeout())
            .min();
        match (deadline, w) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Timers fire.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pump_srflx(now);
        self.hangup_timers(now);
        if !self.hangup.is_down() {
            if let Some(t) = wire(&mut self.transport, &mut self.plain) {
                t.handle_timeout(now);
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
        self.drain_transport(now);
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
            if let Some(t) = wire(&mut self.transport, &mut self.plain) {
                t.send_rtp(now, pkt);
            }
            next = self.media.next_packet();
        }
        self.send_rtcp_if_due(now);
        if self.video.is_some() || self.video_send.is_some() {
            self.video_step(now, true);
        }
        if self.media.ticks().is_multiple_of(DEADLINE_REFRESH_TICKS) {
            if let Some(t) = wire(&mut self.transport, &mut self.plain) {
                t.refresh_timeout();
            }
        }
        self.events.extend(ev.drain(..).map(PeerEvent::Media));
        self.media_events = ev;
    }

    /// Read what the transport has for us: state changes, then media.
    fn drain_transport(&mut self, now: Instant) {
        let arrival = now.saturating_duration_since(self.epoch);
        let recv_unix = self.wall.map(|w| w.unix_time(now));
        if self.hangup.is_down() {
            return;
        }
        let Some(t) = wire(&mut self.transport, &mut self.plain) else {
            return;
        };
        let mut failure = None;
        while let Some(ev) = t.poll_event() {
            match ev {
                TransportEvent::IceConnectionState(s) => {
                    if s != self.ice_state {
                        self.ice_state = s.clone();
                        self.events.push_back(PeerEvent::IceConnectionState(s));
                    }
                }
                TransportEvent::ConnectionState(s) => {
                    self.connected = s == "connected";
                    if s != self.connection_state {
                        self.connection_state = s.clone();
                        self.events.push_back(PeerEvent::ConnectionState(s));
                    }
                }
                TransportEvent::Failed { code, message } => {
                    failure = Some((code, message));
                    break;
                }
            }
        }
        if let Some((code, message)) = failure {
            self.transport_lost(now, code, message);
            return;
        }
        let Some(t) = wire(&mut self.transport, &mut self.plain) else {
            return;
        };
        let mut bye = false;
        let mut ev = std::mem::take(&mut self.media_events);
        while let Some(m) = t.poll_media() {
            match m {
                MediaIn::Rtp(pkt) => {
                    if let Some(v) = self
                        .video
                        .as_mut()
                        .filter(|v| v.owns(pkt.header.payload_type))
                    {
                        v.on_rtp(now, &pkt);
                        continue;
                    }
                    if let Some(u) = recv_unix {
                        self.media.record_send_time(&pkt, u);
                    }
                    self.media.on_rtp(&pkt, arrival, &mut ev);
                }
                MediaIn::Rtcp(pkts) => {
                    if let Some(v) = self.video_send.as_mut() {
                        v.on_rtcp(now, &pkts);
                    }
                    bye |= rtcp_schedule::on_rtcp(
                        &mut self.rtcp,
                        &self.media,
                        &pkts,
                        recv_unix.unwrap_or(arrival),
                    );
                }
            }
        }
        self.events.extend(ev.drain(..).map(PeerEvent::Media));
        self.media_events = ev;
        if self.video.is_some() || self.video_send.is_some() {
            self.video_step(now, false);
        }
        // A plain peer's RTCP BYE has no ICE to probe: its SIP BYE (or
        // rtpTimeout) ends the call.
        if bye && self.plain.is_none() {
            self.on_remote_bye(now);
        }
        if self.hangup.has_early_dtls()
            && matches!(self.ice_state.as_str(), "connected" | "completed")
        {
            // A ClientHello that came with the early checks: rtc takes it now
            // that ICE has a pair, instead of waiting ~100 ms for a resend.
            for (local, remote, data) in self.hangup.take_early_dtls() {
                self.feed_transport(now, local, remote, &data);
            }
            self.drain_transport(now);
        }
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.stun_out.pop_front() {
            return Some(t);
        }
        if let Some(t) = wire(&mut self.transport, &mut self.plain).and_then(|t| t.poll_transmit())
        {
            return Some(t);
        }
        self.plain_video.as_mut()?.wire()?.poll_transmit()
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
        let transport = wire(&mut self.transport, &mut self.plain)
            .map(|t| t.stats(now))
            .unwrap_or_default();
        let view = crate::stats::PeerView {
            media: &self.media,
            rtcp: &self.rtcp,
            ice_connection_state: &self.ice_state,
            connection_state: &self.connection_state,
            candidates: &self.candidates,
            plain: self.plain_transport_info(),
            video: self.video.as_ref().map(|v| v.stats()),
            video_send: self.video_send.as_ref().map(|v| v.stats()),
        };
        crate::stats::report(&view, transport, timestamp_ms)
    }

    /// The call's own (audio) sockets, as created with; RTCP and video
    /// sockets the shard binds later are not among them.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.locals
    }

    /// Our candidates.
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }
}

#[cfg(test)]
mod tests;
