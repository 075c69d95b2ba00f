//! When our RTCP goes out and what arriving RTCP means: the peer's side of
//! [`crate::rtcp::Reporter`], which itself only builds and reads packets.
//!
//! Reports are sent on the media clock (every few 20 ms ticks, once
//! connected) and a BYE on close; NTP time comes from the shard's wall-clock
//! anchor, or from the peer's epoch in core tests (only differences of our
//! own readings matter for round-trip time).

use super::{wire, Peer};
use crate::media::Media;
use crate::rtcp::{ntp_from_unix, Reporter};
use rtc::rtcp::packet::Packet;
use std::time::{Duration, Instant};

impl Peer {
    /// NTP time for RTCP at `now`: wall clock through the shard's anchor.
    /// Without one (core tests) the peer's epoch serves as the origin.
    pub(super) fn ntp(&self, now: Instant) -> u64 {
        ntp_from_unix(match self.wall {
            Some(w) => w.unix_time(now),
            None => now.saturating_duration_since(self.epoch),
        })
    }

    /// On a media tick: send a report when one is due.
    pub(super) fn send_rtcp_if_due(&mut self, now: Instant) {
        if !(self.connected && self.rtcp.due(self.media.ticks())) {
            return;
        }
        let ntp = self.ntp(now);
        let (sender, reception) = (self.media.sender_info(), self.media.reception());
        if let (Some(pkts), Some(t)) = (
            self.rtcp.poll(self.media.ticks(), ntp, sender, reception),
            wire(&mut self.transport),
        ) {
            t.send_rtcp(now, pkts);
        }
    }

    /// The BYE compound sent when we close.
    pub(super) fn goodbye(&mut self, now: Instant) -> Vec<Box<dyn Packet>> {
        let ntp = self.ntp(now);
        let (sender, reception) = (self.media.sender_info(), self.media.reception());
        self.rtcp.goodbye(ntp, sender, reception)
    }
}

/// RTCP arrived `since_origin` after the NTP origin (same origin as
/// [`Peer::ntp`]): update the reporter; true when it says BYE for the
/// stream we receive.
pub(super) fn on_rtcp(
    rtcp: &mut Reporter,
    media: &Media,
    pkts: &[Box<dyn Packet>],
    since_origin: Duration,
) -> bool {
    rtcp.on_rtcp(pkts, ntp_from_unix(since_origin));
    media
        .reception()
        .is_some_and(|r| Reporter::has_bye_for(pkts, r.ssrc))
}
