//! A [`Peer`] in a plain profile: RTP/AVP or RTP/SAVP keyed by SDES, no ICE,
//! no DTLS, no rtc engine. Signaling follows the same W3C state machine; the
//! SDP is ours ([`crate::sdp::plain`]), the wire is [`crate::plain_rtp`], and
//! the media pipeline, RTCP reporter and events are the peer's own, so
//! play/record/DTMF/hold/stats work unchanged.
//!
//! Which calls take this path: an offer whose audio is `RTP/AVP(F)` or
//! `RTP/SAVP(F)` with `a=crypto` and no fingerprint (answering picks the
//! offer's profile), or our own offer when `mediaProfile` is `rtp`/`sdes`.
//! Once a call is plain it stays plain (re-INVITEs included). An offer with
//! ICE but no DTLS is answered as ICE-lite ([`crate::ice_lite`]); our own
//! offers carry no ICE.

use super::gathering::GatherState;
use super::negotiation::{self, answer_direction, intersect, parse_direction};
use super::{Description, Peer, PeerEvent, SdpType, SignalingState};
use crate::audio::codec::CodecKind;
use crate::error::{Error, Result};
use crate::ice_lite::{IceLite, LocalIce};
use crate::sdes::{CryptoAttr, SrtpPair, Suite};
use crate::sdp::plain::{self as psdp, LocalFormat, MediaProfile, PlainLocal, PlainSdp};
use crate::sdp::{Direction, RemoteCodec, SdpError};
use crate::transport::plain::PlainTransport;
use std::net::SocketAddr;
use std::time::Instant;

/// Plain-profile state of one call.
pub(super) struct PlainState {
    profile: MediaProfile,
    /// The wire (the peer's `wire()` hands it to media and RTCP).
    pub(super) transport: PlainTransport,
    /// Our `a=crypto` lines: every suite in an offer, the chosen one after.
    local_crypto: Vec<CryptoAttr>,
    /// The remote offer awaiting our answer.
    pending_remote: Option<PlainSdp>,
    /// What our pending offer lists.
    offered_formats: Vec<LocalFormat>,
    session_id: u64,
    version: u64,
    /// The suite in use, for getStats' `srtpCipher`.
    suite: Option<Suite>,
}

impl PlainState {
    fn new(profile: MediaProfile, locals: Vec<SocketAddr>, rtcp: Option<Vec<SocketAddr>>) -> Self {
        let mut transport = PlainTransport::new(locals);
        if let Some(rtcp) = rtcp {
            transport.set_rtcp_locals(rtcp);
        }
        PlainState {
            profile,
            transport,
            local_crypto: Vec::new(),
            pending_remote: None,
            offered_formats: Vec::new(),
            session_id: rand::random::<u32>() as u64,
            version: 0,
            suite: None,
        }
    }
}

pub(super) fn fill_random(b: &mut [u8]) {
    use rand::RngCore;
    rand::rng().fill_bytes(b);
}

/// Check a remote offer as `setRemoteDescription` on a new connection with
/// `cfg` would, whatever its profile: ICE + DTLS-SRTP
/// ([`super::validate_offer`]), RTP/AVP (refused when
/// `cfg.allow_unencrypted_media` is false) or SDES (refused when no
/// `a=crypto` line is usable).
///
/// ```
/// use sipwire::{config::PeerConfig, peer::validate_offer_for};
/// let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
/// assert!(validate_offer_for(offer, &PeerConfig::default()).is_ok());
/// let strict = PeerConfig { allow_unencrypted_media: false, ..Default::default() };
/// assert_eq!(validate_offer_for(offer, &strict).unwrap_err().code(), "ERR_UNSUPPORTED_PROFILE");
/// ```
pub fn validate_offer_for(sdp_text: &str, cfg: &crate::config::PeerConfig) -> Result<()> {
    match psdp::profile_of(sdp_text) {
        Ok(MediaProfile::Rtp | MediaProfile::Sdes) => {
            check_offer(sdp_text, &cfg.codecs, cfg.allow_unencrypted_media).map(|_| ())
        }
        _ => super::validate_offer(sdp_text, &cfg.codecs).map(|_| ()),
    }
}

/// Check a plain offer: the policy, a usable crypto line for SDES, a common
/// codec. Shared by `validate_offer_for` and `setRemoteDescription`.
pub(super) fn check_offer(
    text: &str,
    codecs: &[CodecKind],
    allow_unencrypted: bool,
) -> Result<PlainSdp> {
    let p = psdp::parse(text, "offer")?;
    match p.profile {
        MediaProfile::Rtp if !allow_unencrypted => {
            return Err(SdpError::UnsupportedProfile(format!(
                "the offer uses {} (unencrypted media), which this connection refuses (allowUnencryptedMedia: false)",
                p.proto
            ))
            .into())
        }
        MediaProfile::Sdes if p.crypto.is_empty() => {
            let why: Vec<String> = p.crypto_skipped.iter().map(|e| e.to_string()).collect();
            return Err(SdpError::UnsupportedProfile(format!(
                "the offer's a=crypto lines are all unusable ({}); sipwire supports {}",
                why.join("; "),
                Suite::ALL.map(Suite::name).join(", ")
            ))
            .into());
        }
        _ => {}
    }
    if !p
        .codecs
        .iter()
        .any(|c| CodecKind::from_name(&c.name, c.clock_rate).is_some_and(|k| codecs.contains(&k)))
    {
        return Err(SdpError::NoCommonCodec(format!(
            "no common audio codec: offer has {}; this connection allows {}",
            p.codecs
                .iter()
                .map(|c| format!("{}/{}", c.name, c.clock_rate))
                .collect::<Vec<_>>()
                .join(", "),
            codecs
                .iter()
                .map(|k| k.mime_name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(p)
}

impl Peer {
    /// True when this call runs a plain profile.
    pub fn is_plain(&self) -> bool {
        self.plain.is_some()
    }

    /// getStats' view of a plain call: `(srtpCipher, latched source)`.
    pub fn plain_transport_info(&self) -> Option<(Option<&'static str>, Option<SocketAddr>)> {
        let p = self.plain.as_ref()?;
        Some((p.suite.map(Suite::name), p.transport.rtp.latched()))
    }

    /// Whether the shard should bind this call's RTCP sockets at RTP
    /// port + 1: a plain call not (yet) known to multiplex RTCP, asked once.
    /// An offer with `a=rtcp-mux` is answered with it, so needs none.
    /// A connection configured to offer a plain profile asks at once, so
    /// its first offer names port + 1 in `a=rtcp`.
    pub fn wants_rtcp_sockets(&self) -> bool {
        if self.rtcp_locals.is_some() || self.closed {
            return false;
        }
        match self.plain.as_ref() {
            Some(p) => match &p.pending_remote {
                Some(r) => !r.rtcp_mux,
                None => !p.transport.rtp.rtcp_mux(),
            },
            None => self.transport.is_none() && self.cfg.media_profile != MediaProfile::WebRtc,
        }
    }

    /// The RTCP sockets the shard bound (none when port + 1 was taken).
    pub fn set_rtcp_sockets(&mut self, addrs: Vec<SocketAddr>) {
        if let Some(p) = self.plain.as_mut() {
            p.transport.set_rtcp_locals(addrs.clone());
        }
        self.rtcp_locals = Some(addrs);
    }

    /// RTCP sockets this call no longer needs, to close: all of them once
    /// the call turned out WebRTC (a `mediaProfile` `rtp`/`sdes` connection
    /// answering a WebRTC offer) or the far end took rtcp-mux.
    pub fn unneeded_rtcp_sockets(&mut self) -> Vec<SocketAddr> {
        let Some(bound) = self.rtcp_locals.as_ref().filter(|l| !l.is_empty()) else {
            return Vec::new();
        };
        let unneeded = match self.plain.as_ref() {
            None => self.transport.is_some(),
            Some(p) => p.pending_remote.is_none() && p.transport.rtp.rtcp_mux(),
        };
        if !unneeded {
            return Vec::new();
        }
        let bound = bound.clone();
        self.set_rtcp_sockets(Vec::new());
        bound
    }

    /// The highest port `portRange` allows, if set.
    pub fn port_range_max(&self) -> Option<u16> {
        self.cfg.port_range.map(|(_, max)| max)
    }

    /// Whether a remote offer goes the plain way.
    pub(super) fn wants_plain_offer(&self, text: &str) -> bool {
        self.plain.is_some()
            || (self.transport.is_none()
                && psdp::profile_of(text).is_ok_and(|p| p != MediaProfile::WebRtc))
    }

    /// Whether our next offer is plain.
    pub(super) fn wants_plain_local(&self) -> bool {
        self.plain.is_some()
            || (self.transport.is_none() && self.cfg.media_profile != MediaProfile::WebRtc)
    }

    fn local_addr_for(&self, remote: Option<SocketAddr>) -> SocketAddr {
        PlainTransport::new(self.locals.clone()).local_for(remote)
    }

    /// setRemoteDescription(offer) in a plain profile.
    pub(super) fn plain_remote_offer(&mut self, desc: Description) -> Result<()> {
        let info = check_offer(
            &desc.sdp,
            &self.cfg.codecs,
            self.cfg.allow_unencrypted_media,
        )?;
        let (locals, rtcp) = (self.locals.clone(), self.rtcp_locals.clone());
        let st = self
            .plain
            .get_or_insert_with(|| PlainState::new(info.profile, locals, rtcp));
        if st.profile != info.profile {
            return Err(SdpError::UnsupportedProfile(format!(
                "a re-offer may not change the media profile from {} to {}",
                st.profile.proto(),
                info.proto
            ))
            .into());
        }
        for w in &info.crypto_skipped {
            self.events
                .push_back(PeerEvent::Warning(format!("skipped a=crypto line: {w}")));
        }
        self.plain_video_remote_offer(&desc.sdp, &info);
        if let Some(st) = self.plain.as_mut() {
            st.pending_remote = Some(info);
        }
        self.pending_remote = Some(desc);
        self.set_signaling(SignalingState::HaveRemoteOffer);
        Ok(())
    }

    /// createAnswer in a plain profile.
    pub(super) fn plain_create_answer(&mut self) -> Result<Description> {
        let wanted = self.wanted_direction;
        let codecs = self.cfg.codecs.clone();
        let st = self
            .plain
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no plain call".into()))?;
        let info = st
            .pending_remote
            .clone()
            .ok_or_else(|| Error::InvalidState("no remote offer".into()))?;
        let mut formats: Vec<LocalFormat> = Vec::new();
        let mut primary = None;
        for c in &info.codecs {
            if let Some(k) =
                CodecKind::from_name(&c.name, c.clock_rate).filter(|k| codecs.contains(k))
            {
                primary.get_or_insert(k);
                formats.push(format_of(c));
            }
        }
        let primary = primary.ok_or_else(|| SdpError::NoCommonCodec("no common codec".into()))?;
        let te = info
            .codecs
            .iter()
            .filter(|c| c.name == "telephone-event")
            .min_by_key(|c| (c.clock_rate != primary.clock_rate()) as u8);
        if let Some(te) = te {
            formats.push(format_of(te));
        }
        if info.profile == MediaProfile::Sdes {
            let ours =
                crate::sdes::answer_key(&info.crypto, st.local_crypto.first(), &mut fill_random)
                    .ok_or_else(|| SdpError::UnsupportedProfile("no usable a=crypto".into()))?;
            st.local_crypto = vec![ours];
        }
        // ICE-lite towards an offer with ICE; new credentials on an ICE
        // restart (a new remote ufrag), none when the re-offer drops ICE.
        st.transport.ice = match (&info.ice, st.transport.ice.take()) {
            (Some(r), Some(ice)) if ice.remote_ufrag() == r.ufrag => Some(ice),
            (Some(r), _) => Some(IceLite::new(r.ufrag.clone())),
            (None, _) => None,
        };
        let ice = st.transport.ice.as_ref().map(|i| LocalIce {
            ufrag: i.ufrag().into(),
            pwd: i.pwd().into(),
            components: if info.rtcp_mux { 1 } else { 2 },
        });
        st.version += 1;
        let addr = self.local_addr_for(info.media.rtp);
        let video = self.plain_video_answer_section(info.profile);
        let st = self.plain.as_ref().expect("checked above");
        let text = psdp::write(&PlainLocal {
            profile: info.profile,
            proto: info.proto.clone(),
            addr,
            formats,
            direction: answer_direction(wanted, info.direction),
            crypto: st.local_crypto.clone(),
            ptime: 20,
            rtcp_mux: info.rtcp_mux,
            rtcp_port: (!info.rtcp_mux)
                .then(|| st.transport.rtcp_local_for(info.media.rtp))
                .flatten()
                .map(|a| a.port()),
            ice,
            session_id: st.session_id,
            version: st.version,
            rejected_sections: info
                .rejected_sections
                .iter()
                .filter(|r| video.as_ref().is_none_or(|(i, _)| *i != r.index))
                .cloned()
                .collect(),
            audio_index: info.audio_index,
            video,
        });
        Ok(Description {
            sdp_type: SdpType::Answer,
            sdp: text,
        })
    }

    /// createOffer in a plain profile.
    pub(super) fn plain_create_offer(&mut self) -> Result<Description> {
        let profile = self
            .plain
            .as_ref()
            .map_or(self.cfg.media_profile, |p| p.profile);
        let dir = self.wanted_direction;
        let mut formats = Vec::new();
        let mut next_dynamic = 96u8;
        for k in &self.cfg.codecs {
            let (name, rate) = (k.mime_name(), k.clock_rate());
            let (pt, channels, fmtp) = match k {
                CodecKind::Opus => (111, 2, Some("minptime=10;useinbandfec=1".to_string())),
                _ => match psdp::static_pt(name, rate) {
                    Some(pt) => (pt, 1, None),
                    None => {
                        next_dynamic += 1;
                        (next_dynamic, 1, None)
                    }
                },
            };
            formats.push(LocalFormat {
                pt,
                name: name.into(),
                clock_rate: rate,
                channels,
                fmtp,
            });
        }
        formats.push(LocalFormat {
            pt: 101,
            name: "telephone-event".into(),
            clock_rate: 8000,
            channels: 1,
            fmtp: Some("0-15".into()),
        });
        if self.cfg.codecs.contains(&CodecKind::Opus) {
            formats.push(LocalFormat {
                pt: 110,
                name: "telephone-event".into(),
                clock_rate: 48000,
                channels: 1,
                fmtp: Some("0-15".into()),
            });
        }
        let remote = self
            .remote
            .as_ref()
            .and_then(|r| psdp::parse(&r.sdp, "remote").ok())
            .and_then(|r| r.media.rtp);
        let addr = self.local_addr_for(remote);
        let (locals, rtcp) = (self.locals.clone(), self.rtcp_locals.clone());
        let st = self
            .plain
            .get_or_insert_with(|| PlainState::new(profile, locals, rtcp));
        if profile == MediaProfile::Sdes && st.local_crypto.len() != Suite::ALL.len() {
            // A re-offer keeps the suite in use first, with its key.
            let current = st.local_crypto.first().cloned();
            let mut lines = Vec::new();
            if let Some(c) = current {
                lines.push(c);
            }
            for s in Suite::ALL {
                if !lines.iter().any(|c| c.suite == s) {
                    lines.push(CryptoAttr::generate(0, s, &mut fill_random));
                }
            }
            for (i, c) in lines.iter_mut().enumerate() {
                c.tag = i as u32 + 1;
            }
            st.local_crypto = lines;
        }
        st.offered_formats = formats.clone();
        st.version += 1;
        let video = self.plain_video_offer_section(profile);
        let st = self.plain.as_ref().expect("inserted above");
        let text = psdp::write(&PlainLocal {
            profile,
            proto: profile.proto().into(),
            addr,
            formats,
            direction: dir,
            crypto: st.local_crypto.clone(),
            ptime: 20,
            rtcp_mux: true,
            rtcp_port: st.transport.rtcp_local_for(remote).map(|a| a.port()),
            ice: None,
            session_id: st.session_id,
            version: st.version,
            rejected_sections: Vec::new(),
            audio_index: 0,
            video,
        });
        Ok(Description {
            sdp_type: SdpType::Offer,
            sdp: text,
        })
    }

    /// setLocalDescription in a plain profile.
    pub(super) fn plain_set_local(&mut self, now: Instant, desc: Description) -> Result<()> {
        match (desc.sdp_type, self.signaling) {
            (SdpType::Offer, SignalingState::Stable | SignalingState::HaveLocalOffer) => {
                psdp::parse(&desc.sdp, "local offer")?;
                self.pending_direction =
                    parse_direction(&desc.sdp).unwrap_or(self.wanted_direction);
                self.pending_local = Some(desc);
                self.plain_gathered(now);
                self.set_signaling(SignalingState::HaveLocalOffer);
                Ok(())
            }
            (SdpType::Answer | SdpType::Pranswer, SignalingState::HaveRemoteOffer) => {
                let ours = psdp::parse(&desc.sdp, "local answer")?;
                let st = self
                    .plain
                    .as_mut()
                    .ok_or_else(|| Error::InvalidState("no plain call".into()))?;
                let info = st
                    .pending_remote
                    .take()
                    .ok_or_else(|| Error::InvalidState("no remote offer".into()))?;
                let keys = match info.profile {
                    MediaProfile::Sdes => {
                        let mine = ours.crypto.first().cloned().ok_or_else(|| {
                            Error::InvalidArgument("the SDES answer has no a=crypto".into())
                        })?;
                        let theirs = info
                            .crypto
                            .iter()
                            .find(|c| c.tag == mine.tag && c.suite == mine.suite)
                            .cloned()
                            .ok_or_else(|| {
                                Error::InvalidArgument(
                                    "the answer's a=crypto tag matches no offered line".into(),
                                )
                            })?;
                        Some((mine, theirs))
                    }
                    _ => None,
                };
                self.plain_apply(&ours.codecs, &info.codecs, &info, keys, ours.direction)?;
                self.plain_video_answered(&desc.sdp)?;
                self.remote = self.pending_remote.take();
                self.local = Some(desc);
                self.plain_gathered(now);
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

    /// setRemoteDescription(answer) in a plain profile.
    pub(super) fn plain_remote_answer(&mut self, desc: Description) -> Result<()> {
        let info = psdp::parse(&desc.sdp, "answer")?;
        let st = self
            .plain
            .as_ref()
            .ok_or_else(|| Error::InvalidState("no plain call".into()))?;
        if info.profile != st.profile {
            return Err(SdpError::UnsupportedProfile(format!(
                "we offered {} and the answer uses {}",
                st.profile.proto(),
                info.proto
            ))
            .into());
        }
        if info.profile == MediaProfile::Rtp && !self.cfg.allow_unencrypted_media {
            return Err(SdpError::UnsupportedProfile("unencrypted media is refused".into()).into());
        }
        let keys = match info.profile {
            MediaProfile::Sdes => {
                let theirs = info.crypto.first().cloned().ok_or_else(|| {
                    SdpError::UnsupportedProfile("the SDES answer has no usable a=crypto".into())
                })?;
                let mine = st
                    .local_crypto
                    .iter()
                    .find(|c| c.tag == theirs.tag && c.suite == theirs.suite)
                    .cloned()
                    .ok_or_else(|| {
                        SdpError::UnsupportedProfile(
                            "the answer's a=crypto matches none we offered".into(),
                        )
                    })?;
                Some((mine, theirs))
            }
            _ => None,
        };
        let offered: Vec<RemoteCodec> = st
            .offered_formats
            .iter()
            .map(|f| RemoteCodec {
                pt: f.pt,
                name: f.name.clone(),
                clock_rate: f.clock_rate,
                channels: f.channels,
                fmtp: f.fmtp.clone(),
            })
            .collect();
        let dir = intersect(self.pending_direction, info.direction.reverse());
        self.plain_apply(&info.codecs, &offered, &info, keys, dir)?;
        self.plain_video_remote_answer(&desc.sdp, info.profile);
        if let Some(st) = self.plain.as_mut() {
            if let Some((mine, _)) = &keys_of(&info, st) {
                st.local_crypto = vec![mine.clone()];
            }
        }
        self.remote = Some(desc);
        self.local = self.pending_local.take();
        self.set_signaling(SignalingState::Stable);
        Ok(())
    }

    /// Negotiation done: transport addresses, keys, codecs, direction, and
    /// "connected" (there is no handshake: media may flow now).
    fn plain_apply(
        &mut self,
        answer: &[RemoteCodec],
        offer: &[RemoteCodec],
        remote: &PlainSdp,
        keys: Option<(CryptoAttr, CryptoAttr)>,
        dir: Direction,
    ) -> Result<()> {
        let srtp = match &keys {
            Some((mine, theirs)) => Some(SrtpPair::new(mine, theirs)?),
            None => None,
        };
        let n = negotiation::negotiate_codecs(answer, offer, "", dir, &self.cfg.codecs)?;
        self.media.configure(Some(n.send), n.recv)?;
        self.media.set_direction(n.direction);
        let st = self
            .plain
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no plain call".into()))?;
        let mut media = remote.media;
        media.rtcp_mux = remote.rtcp_mux;
        st.transport.rtp.set_remote(media);
        if srtp.is_some() || st.transport.rtp.is_secure() {
            st.transport.rtp.set_srtp(srtp);
        }
        st.suite = keys.map(|(m, _)| m.suite);
        st.transport
            .set_payload_types(answer.iter().chain(offer).map(|c| c.pt).collect());
        // a=ptime on send: G.711 frames joined to 40/60 ms within a=maxptime.
        let g711 = self
            .media
            .send_codec()
            .filter(|c| matches!(c.kind, CodecKind::Pcmu | CodecKind::Pcma))
            .map(|c| c.pt);
        let max = remote.maxptime.unwrap_or(60).clamp(20, 60);
        let frames = remote.ptime.map_or(1, |p| (p.min(max) / 20).clamp(1, 3)) as usize;
        let st = self
            .plain
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no plain call".into()))?;
        st.transport
            .set_frames_per_packet(frames, g711.into_iter().collect());
        if !self.connected {
            self.connected = true;
            self.connection_state = "connected".into();
            self.events
                .push_back(PeerEvent::ConnectionState("connected".into()));
        }
        Ok(())
    }

    /// No ICE: gathering is complete at once (SIP.js waits for it).
    fn plain_gathered(&mut self, _now: Instant) {
        if self.gathering == GatherState::New {
            self.gathering = GatherState::InProgress;
            self.events
                .push_back(PeerEvent::IceGatheringState("gathering"));
            self.candidates.clear();
            self.complete_gathering();
        }
    }
}

fn keys_of(info: &PlainSdp, st: &PlainState) -> Option<(CryptoAttr, CryptoAttr)> {
    let theirs = info.crypto.first()?;
    let mine = st
        .local_crypto
        .iter()
        .find(|c| c.tag == theirs.tag && c.suite == theirs.suite)?;
    Some((mine.clone(), theirs.clone()))
}

fn format_of(c: &RemoteCodec) -> LocalFormat {
    LocalFormat {
        pt: c.pt,
        name: c.name.clone(),
        clock_rate: c.clock_rate,
        channels: c.channels,
        fmtp: c.fmtp.clone(),
    }
}
