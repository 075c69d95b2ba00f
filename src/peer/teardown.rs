//! Ending: W3C `close` (RTCP BYE and DTLS `close_notify` first), the
//! transport lost while the connection stays open (the far end hung up, see
//! [`crate::hangup`], or DTLS failed), and internal failure.

use super::{wire, Peer, PeerEvent, SignalingState, Transmit};
use crate::transport::MediaTransport;
use bytes::BytesMut;
use std::time::Instant;

impl Peer {
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
        let bye = if self.connected && (self.transport.is_some() || self.plain.is_some()) {
            Some(self.goodbye(now))
        } else {
            None
        };
        let Some(t) = wire(&mut self.transport, &mut self.plain) else {
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
    pub(super) fn transport_lost(&mut self, now: Instant, code: &'static str, message: String) {
        if self.closed || !self.hangup.mark_down(code) {
            return;
        }
        self.events
            .push_back(PeerEvent::CodedWarning { code, message });
        self.shutdown_transport(now);
        if let Some(t) = wire(&mut self.transport, &mut self.plain) {
            t.refresh_timeout();
        }
        if self.connection_state != "failed" {
            self.connection_state = "failed".into();
            self.events
                .push_back(PeerEvent::ConnectionState("failed".into()));
        }
    }

    /// W3C `close`. Idempotent.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(mut t) = self.transport.take() {
            MediaTransport::close(&mut *t);
        }
        self.media.stop_recording(None);
        // A pending playVideo settles as stopped.
        self.video_send = None;
        // Leave any bridge or conference: the other side notices on its next tick.
        self.media.detach_port(None);
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

    /// The far end said BYE for the stream we receive: probe whether it is
    /// still there (see [`crate::hangup`]).
    pub(super) fn on_remote_bye(&mut self, now: Instant) {
        let creds = match (self.local.as_ref(), self.remote.as_ref()) {
            (Some(l), Some(r)) => crate::hangup::ProbeCredentials::from_sdp(&l.sdp, &r.sdp, true)
                .map(|c| crate::hangup::ProbeCredentials {
                    tie_breaker: self.identity.entropy.u64(),
                    ..c
                }),
            _ => None,
        };
        self.hangup.on_bye(now, creds);
        self.hangup_timers(now);
    }

    pub(super) fn hangup_timers(&mut self, now: Instant) {
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
}
