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
//! | `gathering` | host and srflx candidates, gathering state, gathering waits |
//! | `rtcp_schedule` | when our RTCP reports go out, and what arrives |
//! | this file | the sans-IO surface (datagrams, timers, ticks, polls), descriptions, close |
//!
//! The wire under the media is a [`crate::transport::MediaTransport`]; today
//! [`crate::transport::webrtc::WebRtcTransport`] (ICE + DTLS-SRTP via rtc),
//! which also runs the offer/answer for ICE and DTLS.
//!
//! Direction (hold) is applied by sipwire, not by rtc: rtc always sees
//! `sendrecv` and the negotiated direction gates our own media pipeline. That
//! keeps a hold re-INVITE from touching rtc's transceiver state machine, so
//! ICE and DTLS carry on untouched.

mod gathering;
pub mod negotiation;
mod rtcp_schedule;
pub mod signaling;

pub use crate::transport::Transmit;
pub use negotiation::{answer_direction, validate_offer};
pub use signaling::{next_state, Apply, Description, SdpType, SignalingState};

use crate::config::PeerConfig;
use crate::delay::WallAnchor;
use crate::error::{Error, Result};
use crate::intake;
use crate::media::{Media, MediaEvent};
use crate::sdp::{self, Direction, LocalRewrite, RemoteSdp, SdpKind, Setup};
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
    transport: Option<WebRtcTransport>,
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
}

/// The media-facing side of the transport: what media and RTCP code use, so
/// that they do not depend on which transport carries them.
fn wire(t: &mut Option<WebRtcTransport>) -> Option<&mut dyn MediaTransport> {
    t.as_mut().map(|t| t as &mut dyn MediaTransport)
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
        let candidates = gathering::host_candidates(&locals);
        Peer {
            cfg,
            transport: None,
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
            rtcp: crate::rtcp::Reporter::new(ssrc, rand::random()),
            wall: None,
            hangup: crate::hangup::Hangup::default(),
            pending_dns,
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
            &codecs,
            remote_offer.and_then(|o| o.setup),
            self.media.ssrc(),
            &self.candidates,
            now,
        )?;
        self.transport = Some(t);
        Ok(())
    }

    fn engine(&mut self) -> Result<&mut WebRtcTransport> {
        self.transport
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
        signaling::check_create_offer(self.signaling)?;
        self.build_transport(now, None)?;
        let offer = self.engine()?.create_offer(ice_restart)?;
        let dir = self.wanted_direction;
        let out = self.finish_local(&offer, dir, None, false);
        self.last_created = Some((offer, out.clone()));
        Ok(Description {
            sdp_type: SdpType::Offer,
            sdp: out,
        })
    }

    /// W3C `createAnswer`.
    pub fn create_answer(&mut self, _now: Instant) -> Result<Description> {
        self.check_open()?;
        signaling::check_create_answer(self.signaling)?;
        let answer = self.engine()?.create_answer()?;
        let info = self
            .pending_remote_info
            .clone()
            .ok_or_else(|| Error::InvalidState("no remote offer".into()))?;
        let dir = answer_direction(self.wanted_direction, info.direction);
        let setup = sdp::answer_setup(info.setup);
        self.answer_setup = Some(setup);
        let out = self.finish_local(&answer, dir, Some(&info), true);
        self.last_created = Some((answer, out.clone()));
        Ok(Description {
            sdp_type: SdpType::Answer,
            sdp: out,
        })
    }

    /// How our SDP is rewritten for the application: candidates gathered so
    /// far, direction, setup, and what the offer rejected.
    fn local_rewrite(
        &self,
        direction: Option<Direction>,
        offer: Option<&RemoteSdp>,
        is_answer: bool,
    ) -> LocalRewrite {
        LocalRewrite {
            candidates: self.candidates.clone(),
            end_of_candidates: self.gathering == GatherState::Complete,
            default_addr: sdp::default_candidate(&self.candidates),
            direction,
            setup: if is_answer { self.answer_setup } else { None },
            rejected_sections: offer
                .map(|o| o.rejected_sections.clone())
                .unwrap_or_default(),
            strip_bundle: offer.is_some_and(|o| !o.had_bundle),
            strip_mid: false,
            dedupe_telephone_event: true,
        }
    }

    fn finish_local(
        &mut self,
        sdp_text: &str,
        dir: Direction,
        offer: Option<&RemoteSdp>,
        is_answer: bool,
    ) -> String {
        sdp::rewrite_local(sdp_text, &self.local_rewrite(Some(dir), offer, is_answer))
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
        let next = next_state(self.signaling, Apply::Local, desc.sdp_type)?;
        match desc.sdp_type {
            SdpType::Rollback => {
                self.rtc_rollback(now, true)?;
                self.hangup.disarm_early_checks();
                self.pending_local = None;
            }
            SdpType::Offer => {
                let for_rtc = self.sdp_for_rtc(&desc.sdp);
                self.build_transport(now, None)?;
                self.engine()?.set_local(now, false, for_rtc.clone())?;
                if self.remote.is_none() {
                    self.hangup.arm_early_checks(&for_rtc);
                }
                self.local_offer_for_rtc = Some(for_rtc);
                self.pending_direction =
                    negotiation::parse_direction(&desc.sdp).unwrap_or(self.wanted_direction);
                self.pending_local = Some(desc);
                self.start_gathering(now);
            }
            SdpType::Answer | SdpType::Pranswer => {
                let for_rtc = self.sdp_for_rtc(&desc.sdp);
                self.engine()?.set_local(now, true, for_rtc)?;
                let info = self
                    .pending_remote_info
                    .take()
                    .ok_or_else(|| Error::InvalidState("no remote offer".into()))?;
                let dir = negotiation::parse_direction(&desc.sdp).unwrap_or(Direction::SendRecv);
                self.hangup.answered_first();
                // What we send is what our answer lists, not everything offered.
                let ours = sdp::normalize_remote(&desc.sdp, SdpKind::Answer).ok();
                self.apply_negotiation(ours.as_ref().unwrap_or(&info), &info, dir)?;
                self.remote_info = Some(info);
                self.remote = self.pending_remote.take();
                self.local = Some(desc);
                self.start_gathering(now);
            }
        }
        self.set_signaling(next);
        Ok(())
    }

    /// W3C `setRemoteDescription`.
    pub fn set_remote_description(&mut self, now: Instant, desc: Description) -> Result<()> {
        self.check_open()?;
        let next = next_state(self.signaling, Apply::Remote, desc.sdp_type)?;
        match desc.sdp_type {
            SdpType::Rollback => {
                self.rtc_rollback(now, false)?;
                self.pending_remote = None;
                self.pending_remote_info = None;
                self.set_signaling(next);
            }
            SdpType::Offer => {
                // The same checks as validate_offer (crate::intake).
                let intake::PreparedOffer { info, for_rtc } =
                    intake::prepare_offer(&desc.sdp, &self.cfg.codecs)?;
                self.warn_skipped(&info);
                self.build_transport(now, Some(&info))?;
                self.engine()?
                    .set_remote(now, false, for_rtc, &info.fingerprints)?;
                self.pending_remote_info = Some(info);
                self.pending_remote = Some(desc);
                self.set_signaling(next);
            }
            SdpType::Answer | SdpType::Pranswer => {
                let (info, for_rtc) = intake::prepare_answer(&desc.sdp)?;
                self.warn_skipped(&info);
                self.engine()?
                    .set_remote(now, true, for_rtc, &info.fingerprints)?;
                let our_offer = sdp::normalize_remote(
                    self.local_offer_for_rtc.as_deref().unwrap_or_default(),
                    SdpKind::Offer,
                )
                .ok();
                let answer_dir = info.direction.reverse();
                let dir = negotiation::intersect(self.pending_direction, answer_dir);
                match our_offer {
                    Some(o) => self.apply_negotiation(&info, &o, dir)?,
                    None => self.apply_negotiation(&info, &info, dir)?,
                }
                self.remote_info = Some(info);
                self.remote = Some(desc);
                self.local = self.pending_local.take();
                self.set_signaling(next);
                self.replay_early_checks(now);
            }
        }
        Ok(())
    }

    fn warn_skipped(&mut self, info: &RemoteSdp) {
        // Already bounded and coded by the normaliser.
        for w in &info.warnings {
            self.events.push_back(PeerEvent::Warning(w.clone()));
        }
    }

    fn rtc_rollback(&mut self, now: Instant, local: bool) -> Result<()> {
        match self.transport.as_mut() {
            Some(t) => t.rollback(now, local),
            None => Ok(()),
        }
    }

    /// Hand what the exchange settled to the media pipeline.
    fn apply_negotiation(
        &mut self,
        answer: &RemoteSdp,
        offer: &RemoteSdp,
        dir: Direction,
    ) -> Result<()> {
        let n = negotiation::negotiate(answer, offer, dir, &self.cfg.codecs)?;
        self.media.configure(Some(n.send), n.recv)?;
        self.media.set_direction(n.direction);
        self.media.set_abs_send_time_id(n.abs_send_time_id);
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
        sdp::set_direction(&sdp::strip_rejected_sections(given), Direction::SendRecv)
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
        let rw = self.local_rewrite(None, offer, is_answer);
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
        self.engine()?.add_remote_candidate(c)
    }

    /// W3C `restartIce`: the next offer carries new credentials.
    pub fn restart_ice(&mut self) -> Result<()> {
        self.check_open()?;
        if let Some(t) = self.transport.as_mut() {
            t.restart_ice();
        }
        Ok(())
    }

    /// Internal failure (a caught panic): report `failed`, then close.
    pub fn fail(&mut self) {
        if self.closed {
            return;
        }
        self.transport = None; // its state is suspect after a panic
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
    /// the transport. What they produce is queued for [`Peer::poll_transmit`]:
    /// rtc routes it at `close()`, while it still knows the selected pair.
    fn shutdown_transport(&mut self, now: Instant) {
        let bye = if self.connected && self.transport.is_some() {
            Some(self.goodbye(now))
        } else {
            None
        };
        let Some(t) = wire(&mut self.transport) else {
            return;
        };
        if let Some(pkts) = bye {
            t.send_rtcp(now, pkts);
        }
        t.close();
        while let Some(m) = t.poll_transmit() {
            self.stun_out.push_back(m);
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
        if let Some(t) = wire(&mut self.transport) {
            t.refresh_timeout();
        }
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
            self.feed_transport(now, local, remote, &data);
        }
        self.drain_transport(now);
    }

    fn feed_transport(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if let Some(t) = wire(&mut self.transport) {
            t.handle_datagram(now, local, remote, data);
        }
    }

    /// W3C `close`. Idempotent.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(mut t) = self.transport.take() {
            MediaTransport::close(&mut t);
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
        if wire(&mut self.transport).is_some_and(|t| t.remote_closed()) {
            self.transport_lost(
                now,
                crate::hangup::REMOTE_CLOSED,
                "the far end closed the connection (DTLS close_notify)".into(),
            );
        }
        if !self.connected {
            // When this datagram completes ICE, the event that starts rtc's
            // DTLS client (drained above) queues its ClientHello where only
            // a timer run collects it: without this it waited for the next
            // ICE check timer, ~10 ms of every call setup.
            if let Some(t) = wire(&mut self.transport) {
                t.poke(now);
            }
            self.drain_transport(now);
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

    /// Next time [`Peer::handle_timeout`] must run.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let deadline = wire(&mut self.transport).and_then(|t| t.poll_timeout());
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
            if let Some(t) = wire(&mut self.transport) {
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
            if let Some(t) = wire(&mut self.transport) {
                t.send_rtp(now, pkt);
            }
            next = self.media.next_packet();
        }
        self.send_rtcp_if_due(now);
        if self.media.ticks().is_multiple_of(DEADLINE_REFRESH_TICKS) {
            if let Some(t) = wire(&mut self.transport) {
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
        let Some(t) = wire(&mut self.transport) else {
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
        let Some(t) = wire(&mut self.transport) else {
            return;
        };
        let mut bye = false;
        let mut ev = std::mem::take(&mut self.media_events);
        while let Some(m) = t.poll_media() {
            match m {
                MediaIn::Rtp(pkt) => {
                    if let Some(u) = recv_unix {
                        self.media.record_send_time(&pkt, u);
                    }
                    self.media.on_rtp(&pkt, arrival, &mut ev);
                }
                MediaIn::Rtcp(pkts) => {
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
        if bye {
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
        wire(&mut self.transport)?.poll_transmit()
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
        let transport = wire(&mut self.transport)
            .map(|t| t.stats(now))
            .unwrap_or_default();
        let view = crate::stats::PeerView {
            media: &self.media,
            rtcp: &self.rtcp,
            ice_connection_state: &self.ice_state,
            connection_state: &self.connection_state,
            candidates: &self.candidates,
        };
        crate::stats::report(&view, transport, timestamp_ms)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        let now = Instant::now();
        Peer::new(
            PeerConfig::default(),
            vec!["127.0.0.1:40000".parse().unwrap()],
            now,
        )
    }

    #[test]
    fn a_refused_description_changes_nothing() {
        let now = Instant::now();
        let mut p = peer();
        let e = p
            .set_remote_description(
                now,
                Description {
                    sdp_type: SdpType::Answer,
                    sdp: "v=0".into(),
                },
            )
            .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_STATE");
        assert_eq!(p.signaling_state(), SignalingState::Stable);
        assert!(p.remote_description().is_none());
        assert!(p.poll_event().is_none(), "no event for a refused call");
    }

    #[test]
    fn close_reports_every_state_once_and_refuses_later_calls() {
        let now = Instant::now();
        let mut p = peer();
        p.close();
        p.close();
        let ev: Vec<_> = std::iter::from_fn(|| p.poll_event()).collect();
        assert_eq!(
            ev,
            vec![
                PeerEvent::IceConnectionState("closed".into()),
                PeerEvent::ConnectionState("closed".into()),
                PeerEvent::SignalingState("closed"),
            ]
        );
        assert_eq!(p.create_offer(now, false).unwrap_err().code(), "ERR_CLOSED");
    }
}
