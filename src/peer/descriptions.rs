//! W3C descriptions: `createOffer`/`createAnswer`, `setLocalDescription` /
//! `setRemoteDescription` (checked against [`super::signaling::next_state`]
//! before anything changes), the local SDP as the application sees it
//! (candidates, direction, setup added to what rtc wrote), trickled remote
//! candidates, and handing each completed exchange to the media pipeline
//! through [`super::negotiation::negotiate`].

use super::gathering::GatherState;
use super::negotiation::{self, answer_direction};
use super::signaling::{self, next_state, Apply, Description, SdpType, SignalingState};
use super::{Peer, PeerEvent};
use crate::error::{Error, Result};
use crate::intake;
use crate::sdp::{self, Direction, LocalRewrite, RemoteSdp, SdpKind};
use std::time::Instant;

impl Peer {
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
        if self.wants_plain_local() {
            return self.plain_create_offer();
        }
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
        if self.plain.is_some() {
            return self.plain_create_answer();
        }
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
        let out = sdp::rewrite_local(sdp_text, &self.local_rewrite(Some(dir), offer, is_answer));
        self.video_direction(out, offer)
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
        if self.plain.is_some() && desc.sdp_type != SdpType::Rollback {
            return self.plain_set_local(now, desc);
        }
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
                self.apply_video(info.video.as_ref());
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
            SdpType::Offer if self.wants_plain_offer(&desc.sdp) => {
                self.plain_remote_offer(desc)?;
            }
            SdpType::Answer | SdpType::Pranswer if self.plain.is_some() => {
                self.plain_remote_answer(desc)?;
            }
            SdpType::Offer => {
                // The same checks as validate_offer (crate::intake).
                let intake::PreparedOffer { info, for_rtc } = intake::prepare_offer_with(
                    &desc.sdp,
                    &self.cfg.codecs,
                    self.cfg.video.as_ref(),
                )?;
                self.warn_skipped(&info);
                self.build_transport(now, Some(&info))?;
                self.engine()?
                    .set_remote(now, false, for_rtc, &info.fingerprints)?;
                self.pending_remote_info = Some(info);
                self.pending_remote = Some(desc);
                self.set_signaling(next);
            }
            SdpType::Answer | SdpType::Pranswer => {
                let (info, for_rtc) =
                    intake::prepare_answer_with(&desc.sdp, self.cfg.video.as_ref())?;
                self.apply_video(info.video.as_ref());
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
        if self.plain.is_some() {
            return Some(d.clone()); // ours already, with no candidates to add
        }
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

    pub(super) fn set_signaling(&mut self, s: SignalingState) {
        if self.signaling != s {
            self.signaling = s;
            self.events.push_back(PeerEvent::SignalingState(s.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PeerConfig;

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
}
