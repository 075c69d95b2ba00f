//! ICE gathering: host candidates from the bound sockets, server-reflexive
//! ones from STUN ([`crate::srflx`], sans-IO), the W3C gathering state, and
//! the SIP extension that waits for gathering to end (a SIP body carries
//! the complete SDP, not trickled candidates).

use super::{Peer, PeerEvent, Transmit};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// W3C `RTCIceGathererState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GatherState {
    New,
    InProgress,
    Complete,
}

impl GatherState {
    fn as_str(self) -> &'static str {
        match self {
            GatherState::New => "new",
            GatherState::InProgress => "gathering",
            GatherState::Complete => "complete",
        }
    }
}

/// One host candidate per socket, the first bound preferred.
pub(super) fn host_candidates(locals: &[SocketAddr]) -> Vec<String> {
    locals
        .iter()
        .enumerate()
        .map(|(i, a)| host_candidate(i as u32 + 1, *a, (locals.len() - i) as u32))
        .collect()
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

/// A server-reflexive candidate line; `foundation` distinct from the hosts'.
fn srflx_candidate(foundation: usize, r: &crate::srflx::Reflexive) -> String {
    format!(
        "candidate:{} 1 udp {} {} {} typ srflx raddr {} rport {}",
        foundation,
        (100u32 << 24) | (65535 << 8) | 255,
        r.mapped.ip(),
        r.mapped.port(),
        r.local.ip(),
        r.local.port()
    )
}

impl Peer {
    pub(super) fn start_gathering(&mut self, now: Instant) {
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

    pub(super) fn pump_srflx(&mut self, now: Instant) {
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

    pub(super) fn add_srflx(&mut self, r: crate::srflx::Reflexive) {
        let line = srflx_candidate(100 + self.candidates.len(), &r);
        if self
            .candidates
            .iter()
            .any(|c| c.contains(&format!(" {} {} typ srflx", r.mapped.ip(), r.mapped.port())))
        {
            return;
        }
        if let Some(t) = self.transport.as_mut() {
            if let Err(e) = t.add_local_candidate(&line, format!("stun:{}", r.server)) {
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
        if let Some(t) = self.transport.as_mut() {
            t.end_of_candidates();
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
        self.gathering.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_candidates_prefer_the_first_socket() {
        let locals: Vec<SocketAddr> = vec![
            "127.0.0.1:40000".parse().unwrap(),
            "[::1]:40002".parse().unwrap(),
        ];
        let c = host_candidates(&locals);
        assert_eq!(
            c[0],
            format!(
                "candidate:1 1 udp {} 127.0.0.1 40000 typ host",
                (126u32 << 24) | (2 << 8) | 255
            )
        );
        assert!(c[1].starts_with("candidate:2 1 udp ") && c[1].ends_with(" ::1 40002 typ host"));
        let prio = |l: &str| l.split(' ').nth(3).unwrap().parse::<u32>().unwrap();
        assert!(prio(&c[0]) > prio(&c[1]));
    }

    #[test]
    fn a_srflx_candidate_names_its_base() {
        let r = crate::srflx::Reflexive {
            local: "10.0.0.2:40000".parse().unwrap(),
            mapped: "203.0.113.7:61000".parse().unwrap(),
            server: "198.51.100.1:3478".parse().unwrap(),
        };
        let l = srflx_candidate(101, &r);
        assert!(l.starts_with("candidate:101 1 udp "), "{l}");
        assert!(
            l.ends_with("203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 40000"),
            "{l}"
        );
    }

    #[test]
    fn gathering_with_host_candidates_only_completes_at_once_and_releases_waits() {
        let now = Instant::now();
        let mut p = Peer::new(
            crate::config::PeerConfig::default(),
            vec!["127.0.0.1:40000".parse().unwrap()],
            now,
        );
        p.wait_gathering(now, 7, Duration::from_secs(5));
        assert_eq!(p.ice_gathering_state(), "new");
        p.create_offer(now, false).unwrap();
        p.set_local_description(now, None).unwrap();
        assert_eq!(p.ice_gathering_state(), "complete");
        let ev: Vec<_> = std::iter::from_fn(|| p.poll_event()).collect();
        let pos = |e: &PeerEvent| ev.iter().position(|x| x == e).unwrap();
        assert!(
            pos(&PeerEvent::IceGatheringState("gathering")) < pos(&PeerEvent::IceCandidate(None))
        );
        assert!(pos(&PeerEvent::IceCandidate(None)) < pos(&PeerEvent::GatheringWaitDone(7)));
        assert!(p
            .local_description()
            .unwrap()
            .sdp
            .contains("a=end-of-candidates"));
    }
}
