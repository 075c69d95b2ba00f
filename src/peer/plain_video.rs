//! Video in the plain profiles (RTP/AVP, SDES-SRTP). Plain SIP has no
//! BUNDLE: the video section has its own RTP socket (and RTCP socket at
//! port + 1 unless `a=rtcp-mux`), its own latch and, under SDES, its own
//! keys. So a plain call's video runs on a second
//! [`PlainTransport`], and the peer's video pipeline
//! ([`crate::video::receiver`], [`crate::video::sender`], `peer::video`)
//! reaches it through the same [`crate::transport::MediaTransport`] seam as
//! WebRTC video reaches the bundled transport (`super::video_wire`).
//!
//! Sockets: the shard binds them when [`Peer::wants_video_sockets`] says so
//! (an offer with a video section we take, or a connection configured to
//! offer plain RTP/SDES with `video`), hands them over with
//! [`Peer::set_video_sockets`] and closes the ones
//! [`Peer::unneeded_video_sockets`] returns (video rejected or dropped, the
//! call turned WebRTC, the far end took rtcp-mux). Audio-only calls bind
//! none.
//!
//! Towards an offer with ICE the video section gets ICE-lite credentials and
//! host candidates of its own ([`crate::ice_lite`], as the audio's), and a
//! nominated check moves the video to the checked address.

use super::plain::fill_random;
use super::{Peer, PeerEvent};
use crate::error::Result;
use crate::sdes::{CryptoAttr, SrtpPair, Suite};
use crate::sdp::plain::{MediaProfile, PlainSdp};
use crate::transport::plain::PlainTransport;
use crate::transport::{MediaIn, MediaTransport};
use crate::video::plain_sdp::{self, PlainVideoSdp, VideoLocal};
use crate::video::sdp::VideoPayload;
use std::net::SocketAddr;
use std::time::Instant;

/// A plain call's video wire and its negotiation state.
#[derive(Default)]
pub(super) struct PlainVideo {
    /// Built once the shard bound the sockets.
    transport: Option<PlainTransport>,
    rtp_locals: Vec<SocketAddr>,
    rtcp_locals: Vec<SocketAddr>,
    /// The shard was asked for sockets (they may have failed to bind).
    asked: bool,
    /// Our `a=crypto` lines for video: every suite in an offer, the chosen
    /// one after.
    local_crypto: Vec<CryptoAttr>,
    /// The remote offer's video section awaiting our answer.
    pending_remote: Option<PlainVideoSdp>,
    /// Our pending offer carries video.
    offered: bool,
    /// Negotiated: media flows on the transport.
    active: bool,
    /// Negotiated away: the sockets are to be closed.
    release: bool,
}

fn payload_types(payloads: &[VideoPayload]) -> Vec<u8> {
    payloads
        .iter()
        .flat_map(|p| std::iter::once(p.pt).chain(p.rtx))
        .collect()
}

impl PlainVideo {
    /// For a new connection: one that offers a plain profile with video
    /// binds its video sockets at once, so its first offer names them.
    pub(super) fn for_config(cfg: &crate::config::PeerConfig) -> Option<Box<PlainVideo>> {
        (cfg.video.is_some() && cfg.media_profile != MediaProfile::WebRtc)
            .then(|| Box::new(PlainVideo::default()))
    }

    /// The video transport, once video is negotiated.
    pub(super) fn wire(&mut self) -> Option<&mut PlainTransport> {
        if self.active {
            self.transport.as_mut()
        } else {
            None
        }
    }

    fn bound(&self) -> Option<&PlainTransport> {
        self.transport
            .as_ref()
            .filter(|_| !self.rtp_locals.is_empty())
    }

    /// Point the transport at the far end's video address, with its keys
    /// and payload types.
    fn configure(
        &mut self,
        remote: &PlainVideoSdp,
        keys: Option<(CryptoAttr, CryptoAttr)>,
    ) -> Result<()> {
        let srtp = match &keys {
            Some((mine, theirs)) => Some(SrtpPair::new(mine, theirs)?),
            None => None,
        };
        let t = self
            .transport
            .as_mut()
            .ok_or_else(|| crate::error::Error::InvalidState("no video sockets".into()))?;
        t.rtp.set_remote(remote.media);
        if srtp.is_some() || t.rtp.is_secure() {
            t.rtp.set_srtp(srtp);
        }
        t.set_payload_types(payload_types(&remote.video.payloads));
        self.active = true;
        Ok(())
    }

    fn stop(&mut self) {
        self.active = false;
        self.release = true;
    }
}

impl Peer {
    /// The video codecs our configuration allows (none without video).
    fn video_codecs(&self) -> Vec<crate::video::VideoCodec> {
        self.cfg
            .video
            .as_ref()
            .map(|c| c.codecs.clone())
            .unwrap_or_default()
    }

    /// Whether the shard should bind this call's video sockets now, and if
    /// so whether an RTCP socket at the video RTP port + 1 goes with them
    /// (not when the offer's video section has `a=rtcp-mux`).
    pub fn wants_video_sockets(&self) -> Option<bool> {
        if self.closed || self.transport.is_some() {
            return None;
        }
        let v = self
            .plain_video
            .as_ref()
            .filter(|v| !v.asked && !v.release)?;
        match &v.pending_remote {
            Some(r) => Some(!r.media.rtcp_mux),
            None if self.plain.is_none() => Some(true),
            None => None,
        }
    }

    /// The video sockets the shard bound (RTP, and RTCP at port + 1);
    /// both empty when none could be.
    pub fn set_video_sockets(&mut self, rtp: Vec<SocketAddr>, rtcp: Vec<SocketAddr>) {
        let Some(v) = self.plain_video.as_mut() else {
            return;
        };
        v.asked = true;
        let mut t = PlainTransport::new(rtp.clone());
        t.set_rtcp_locals(rtcp.clone());
        v.transport = Some(t);
        v.rtp_locals = rtp;
        v.rtcp_locals = rtcp;
    }

    /// Video sockets this call no longer needs, to close: all of them once
    /// video was rejected or dropped or the call turned out WebRTC, the
    /// RTCP ones once the far end took rtcp-mux for video.
    pub fn unneeded_video_sockets(&mut self) -> Vec<SocketAddr> {
        let webrtc = self.transport.is_some();
        let Some(v) = self.plain_video.as_mut() else {
            return Vec::new();
        };
        if webrtc || v.release {
            let all = v.rtp_locals.iter().chain(&v.rtcp_locals).copied().collect();
            self.plain_video = None;
            return all;
        }
        let muxed = v.active
            && v.pending_remote.is_none()
            && v.transport.as_ref().is_some_and(|t| t.rtp.rtcp_mux());
        if muxed && !v.rtcp_locals.is_empty() {
            if let Some(t) = v.transport.as_mut() {
                t.set_rtcp_locals(Vec::new());
            }
            return std::mem::take(&mut v.rtcp_locals);
        }
        Vec::new()
    }

    /// setRemoteDescription(offer): keep the offer's video section if we
    /// take it (`video` configured, a codec in common, the audio's profile,
    /// usable keys under SDES, no ICE).
    pub(super) fn plain_video_remote_offer(&mut self, text: &str, audio: &PlainSdp) {
        let Some(cfg) = self.cfg.video.as_ref() else {
            return;
        };
        let sdes = audio.profile == MediaProfile::Sdes;
        let parsed = plain_sdp::parse(text, &cfg.codecs)
            .ok()
            .flatten()
            .filter(|v| v.proto.to_ascii_uppercase().starts_with("RTP/SAVP") == sdes)
            .filter(|v| !sdes || !v.crypto.is_empty());
        if let Some(v) = &parsed {
            for w in &v.crypto_skipped {
                self.events.push_back(PeerEvent::Warning(format!(
                    "skipped a=crypto line of the video section: {w}"
                )));
            }
        }
        match (self.plain_video.as_mut(), parsed) {
            (Some(v), p) => v.pending_remote = p,
            (None, Some(p)) => {
                self.plain_video = Some(Box::new(PlainVideo {
                    pending_remote: Some(p),
                    ..Default::default()
                }))
            }
            (None, None) => {}
        }
    }

    /// createAnswer: our video section and its index, when we take the
    /// offer's (else it stays rejected).
    pub(super) fn plain_video_answer_section(
        &mut self,
        profile: MediaProfile,
    ) -> Option<(usize, String)> {
        let cfg = self.cfg.video.clone()?;
        let v = self.plain_video.as_mut()?;
        let r = v.pending_remote.clone()?;
        let t = v.bound()?;
        let local = t.local_for(r.media.rtp);
        let port = local.port();
        let rtcp_port = (!r.media.rtcp_mux)
            .then(|| t.rtcp_local_for(r.media.rtp))
            .flatten()
            .map(|a| a.port());
        // ICE-lite towards an offer with ICE, as for the audio: new
        // credentials on an ICE restart, none when the re-offer drops ICE.
        let t = v.transport.as_mut()?;
        t.ice = match (&r.ice, t.ice.take()) {
            (Some(ri), Some(ice)) if ice.remote_ufrag() == ri.ufrag => Some(ice),
            (Some(ri), _) => Some(crate::ice_lite::IceLite::new(ri.ufrag.clone())),
            (None, _) => None,
        };
        let ice = t.ice.as_ref().map(|i| {
            (
                crate::ice_lite::LocalIce {
                    ufrag: i.ufrag().into(),
                    pwd: i.pwd().into(),
                    components: if r.media.rtcp_mux { 1 } else { 2 },
                },
                local.ip(),
            )
        });
        if profile == MediaProfile::Sdes {
            let ours =
                crate::sdes::answer_key(&r.crypto, v.local_crypto.first(), &mut fill_random)?;
            v.local_crypto = vec![ours];
        }
        let section = plain_sdp::write_section(&VideoLocal {
            proto: r.proto.clone(),
            port,
            payloads: r.video.payloads.clone(),
            direction: crate::video::negotiate::answer_direction(&cfg, r.video.direction),
            crypto: v.local_crypto.clone(),
            rtcp_mux: r.media.rtcp_mux,
            rtcp_port,
            mid: Some(r.video.mid.clone()).filter(|m| !m.is_empty()),
            ice,
        });
        Some((r.index, section))
    }

    /// setLocalDescription(answer): video flows if our answer took it, is
    /// dropped (sockets closed) if not.
    pub(super) fn plain_video_answered(&mut self, answer: &str) -> Result<()> {
        let codecs = self.video_codecs();
        let Some(v) = self.plain_video.as_mut() else {
            return Ok(());
        };
        let offer = v.pending_remote.take();
        let ours = plain_sdp::parse(answer, &codecs).ok().flatten();
        let (Some(r), Some(ours)) = (offer, ours) else {
            v.stop();
            self.apply_video(None);
            return Ok(());
        };
        let keys = match ours.crypto.first() {
            Some(mine) => {
                let theirs = r
                    .crypto
                    .iter()
                    .find(|c| c.tag == mine.tag && c.suite == mine.suite)
                    .cloned()
                    .ok_or_else(|| {
                        crate::error::Error::InvalidArgument(
                            "the video section's a=crypto tag matches no offered line".into(),
                        )
                    })?;
                Some((mine.clone(), theirs))
            }
            None => None,
        };
        v.configure(&r, keys)?;
        self.apply_video(Some(&r.video));
        Ok(())
    }

    /// createOffer: our video section (index 1, after the audio) when this
    /// call has video sockets.
    pub(super) fn plain_video_offer_section(
        &mut self,
        profile: MediaProfile,
    ) -> Option<(usize, String)> {
        let cfg = self.cfg.video.clone()?;
        let v = self.plain_video.as_mut().filter(|v| !v.release)?;
        let t = v.bound()?;
        let to = t.rtp.rtp_destination();
        let port = t.local_for(to).port();
        let rtcp_port = t.rtcp_local_for(to).map(|a| a.port());
        if profile == MediaProfile::Sdes && v.local_crypto.len() != Suite::ALL.len() {
            // A re-offer keeps the suite in use first, with its key.
            let mut lines: Vec<CryptoAttr> = v.local_crypto.first().cloned().into_iter().collect();
            for s in Suite::ALL {
                if !lines.iter().any(|c| c.suite == s) {
                    lines.push(CryptoAttr::generate(0, s, &mut fill_random));
                }
            }
            for (i, c) in lines.iter_mut().enumerate() {
                c.tag = i as u32 + 1;
            }
            v.local_crypto = lines;
        }
        v.offered = true;
        Some((
            1,
            plain_sdp::write_section(&VideoLocal {
                proto: profile.proto().into(),
                port,
                payloads: plain_sdp::offer_payloads(&cfg),
                direction: cfg.direction,
                crypto: v.local_crypto.clone(),
                rtcp_mux: true,
                rtcp_port,
                mid: None,
                ice: None,
            }),
        ))
    }

    /// setRemoteDescription(answer) to our offer: apply its video section,
    /// or drop video when it is rejected or unusable (a warning says why).
    pub(super) fn plain_video_remote_answer(&mut self, text: &str, profile: MediaProfile) {
        let codecs = self.video_codecs();
        let Some(v) = self.plain_video.as_mut() else {
            return;
        };
        if !std::mem::take(&mut v.offered) {
            return;
        }
        let applied = match plain_sdp::parse(text, &codecs).ok().flatten() {
            None => Ok(None),
            Some(r) => {
                let keys = match profile {
                    MediaProfile::Sdes => r.crypto.first().and_then(|theirs| {
                        v.local_crypto
                            .iter()
                            .find(|c| c.tag == theirs.tag && c.suite == theirs.suite)
                            .map(|mine| (mine.clone(), theirs.clone()))
                    }),
                    _ => None,
                };
                if profile == MediaProfile::Sdes && keys.is_none() {
                    Err("the answer's video a=crypto matches none we offered".to_string())
                } else {
                    if let Some((mine, _)) = &keys {
                        v.local_crypto = vec![mine.clone()];
                    }
                    v.configure(&r, keys)
                        .map(|_| Some(r))
                        .map_err(|e| e.to_string())
                }
            }
        };
        match applied {
            Ok(Some(r)) => self.apply_video(Some(&r.video)),
            Ok(None) => {
                v.stop();
                self.apply_video(None);
            }
            Err(why) => {
                v.stop();
                self.apply_video(None);
                self.events
                    .push_back(PeerEvent::Warning(format!("video not started: {why}")));
            }
        }
    }

    /// A datagram on one of our video sockets: to the video transport, and
    /// what it yields to the video pipeline. False when `local` is not a
    /// video socket.
    pub(super) fn plain_video_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Some(v) = self.plain_video.as_mut() else {
            return false;
        };
        if !v.rtp_locals.contains(&local) && !v.rtcp_locals.contains(&local) {
            return false;
        }
        let Some(t) = v.wire() else {
            return true; // video not negotiated (yet): nothing to take
        };
        t.handle_datagram(now, local, remote, data);
        while let Some(m) = t.poll_media() {
            match m {
                MediaIn::Rtp(pkt) => {
                    if let Some(r) = self
                        .video
                        .as_mut()
                        .filter(|r| r.owns(pkt.header.payload_type))
                    {
                        r.on_rtp(now, &pkt);
                    }
                }
                MediaIn::Rtcp(pkts) => {
                    if let Some(s) = self.video_send.as_mut() {
                        s.on_rtcp(now, &pkts);
                    }
                }
            }
        }
        if self.video.is_some() || self.video_send.is_some() {
            self.video_step(now, false);
        }
        true
    }
}

#[cfg(test)]
#[path = "plain_video_tests.rs"]
mod tests;
