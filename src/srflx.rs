//! Server-reflexive candidate gathering (RFC 8445 §5.1.1.2) as a sans-IO
//! state machine: one STUN Binding request per (local socket, STUN server)
//! pair, retransmitted until answered or the gathering deadline passes.
//! rtc 0.21 leaves gathering to the application, so this is ours.

use rtc::stun::message::{Getter, Message, TransactionId, BINDING_REQUEST, BINDING_SUCCESS};
use rtc::stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// RFC 5389 §7.2.1 uses 500 ms doubling; gathering is bounded anyway.
const RTO: Duration = Duration::from_millis(250);

struct Probe {
    local: SocketAddr,
    server: SocketAddr,
    tid: TransactionId,
    raw: Vec<u8>,
    next_send: Instant,
    sends: u32,
    done: bool,
}

/// A mapped address learned from a STUN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reflexive {
    /// Our socket.
    pub local: SocketAddr,
    /// The address the server saw.
    pub mapped: SocketAddr,
    /// The server (for the candidate's `url`).
    pub server: SocketAddr,
}

/// Gathers srflx addresses for a set of local sockets.
pub struct SrflxGatherer {
    probes: Vec<Probe>,
    deadline: Instant,
    /// Servers whose names are still being resolved (by the I/O layer):
    /// gathering is not done while any is, until the deadline.
    pending: usize,
}

impl SrflxGatherer {
    /// Probe every server from every local socket of the same IP family.
    pub fn new(
        locals: &[SocketAddr],
        servers: &[SocketAddr],
        now: Instant,
        timeout: Duration,
    ) -> Self {
        let mut g = SrflxGatherer {
            probes: Vec::new(),
            deadline: now + timeout,
            pending: 0,
        };
        for s in servers {
            g.probe(locals, *s, now);
        }
        g
    }

    fn probe(&mut self, locals: &[SocketAddr], server: SocketAddr, now: Instant) {
        for l in locals {
            if l.is_ipv4() != server.is_ipv4() {
                continue;
            }
            let mut m = Message::new();
            if m.build(&[Box::new(BINDING_REQUEST), Box::new(TransactionId::new())])
                .is_err()
            {
                continue;
            }
            self.probes.push(Probe {
                local: *l,
                server,
                tid: m.transaction_id,
                raw: m.raw.clone(),
                next_send: now,
                sends: 0,
                done: false,
            });
        }
    }

    /// `n` more servers will arrive through [`SrflxGatherer::resolved`].
    pub fn expect(&mut self, n: usize) {
        self.pending += n;
    }

    /// A server name was resolved (`None`: it could not be).
    pub fn resolved(&mut self, locals: &[SocketAddr], server: Option<SocketAddr>, now: Instant) {
        self.pending = self.pending.saturating_sub(1);
        if let Some(s) = server {
            if now < self.deadline {
                self.probe(locals, s, now);
            }
        }
    }

    /// True when every probe was answered and no name is pending, or the deadline passed.
    pub fn is_done(&self, now: Instant) -> bool {
        now >= self.deadline || (self.pending == 0 && self.probes.iter().all(|p| p.done))
    }

    /// Next time [`SrflxGatherer::poll_transmit`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let next = self
            .probes
            .iter()
            .filter(|p| !p.done)
            .map(|p| p.next_send)
            .min();
        match next {
            Some(n) => Some(n.min(self.deadline)),
            // Only waiting for names: wake at the deadline to give up on them.
            None if self.pending > 0 => Some(self.deadline),
            None => None,
        }
    }

    /// A request due now: (from, to, bytes).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        if now >= self.deadline {
            return None;
        }
        let p = self
            .probes
            .iter_mut()
            .find(|p| !p.done && p.next_send <= now)?;
        p.sends += 1;
        p.next_send = now + RTO * p.sends.min(4);
        Some((p.local, p.server, p.raw.clone()))
    }

    /// Offer a datagram received on `local`; `Some` when it answered one of our probes
    /// (the datagram is then consumed and must not reach ICE).
    pub fn handle(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) -> Option<Option<Reflexive>> {
        // STUN messages start with two zero bits (RFC 5389 §6); RTP/DTLS do not.
        if data.len() < 20 || data[0] & 0xC0 != 0 {
            return None;
        }
        let mut m = Message::new();
        m.unmarshal_binary(data).ok()?;
        let p = self
            .probes
            .iter_mut()
            .find(|p| p.local == local && p.server == from && p.tid == m.transaction_id)?;
        if p.done {
            return Some(None);
        }
        p.done = true;
        if m.typ != BINDING_SUCCESS {
            return Some(None);
        }
        let mut xor = XorMappedAddress::default();
        if xor.get_from(&m).is_err() {
            return Some(None);
        }
        Some(Some(Reflexive {
            local,
            mapped: SocketAddr::new(xor.ip, xor.port),
            server: from,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::stun::message::Setter;

    #[test]
    fn names_being_resolved_keep_gathering_open_until_resolved_or_deadline() {
        let now = Instant::now();
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut g = SrflxGatherer::new(&[local], &[], now, Duration::from_secs(1));
        g.expect(2);
        assert!(!g.is_done(now), "two names pending");
        assert_eq!(g.poll_timeout(), Some(now + Duration::from_secs(1)));
        g.resolved(&[local], None, now);
        assert!(!g.is_done(now));
        let server: SocketAddr = "127.0.0.1:3478".parse().unwrap();
        g.resolved(&[local], Some(server), now);
        let (_, to, _) = g.poll_transmit(now).expect("the resolved server is probed");
        assert_eq!(to, server);
        assert!(!g.is_done(now), "its probe is unanswered");
        assert!(
            g.is_done(now + Duration::from_secs(1)),
            "the deadline ends it"
        );
        // A name that never resolves ends at the deadline too.
        let mut g = SrflxGatherer::new(&[local], &[], now, Duration::from_millis(300));
        g.expect(1);
        assert!(g.is_done(now + Duration::from_millis(300)));
    }

    #[test]
    fn answers_are_matched_and_timeouts_end_gathering() {
        let now = Instant::now();
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:3478".parse().unwrap();
        let mut g = SrflxGatherer::new(&[local], &[server], now, Duration::from_secs(1));
        let (from, to, raw) = g.poll_transmit(now).expect("first request at once");
        assert_eq!((from, to), (local, server));
        assert!(g.poll_transmit(now).is_none(), "paced");
        let mut req = Message::new();
        req.unmarshal_binary(&raw).unwrap();
        let mut resp = Message::new();
        let mapped = XorMappedAddress {
            ip: "127.0.0.1".parse().unwrap(),
            port: 4000,
        };
        resp.build(&[Box::new(BINDING_SUCCESS), Box::new(req.transaction_id)])
            .unwrap();
        mapped.add_to(&mut resp).unwrap();
        assert_eq!(
            g.handle(local, server, b"\x80\x00junk-not-stun......."),
            None,
            "RTP passes through"
        );
        let got = g.handle(local, server, &resp.raw).unwrap().unwrap();
        assert_eq!(got.mapped, "127.0.0.1:4000".parse::<SocketAddr>().unwrap());
        assert!(g.is_done(now));

        let silent = SrflxGatherer::new(&[local], &[server], now, Duration::from_millis(500));
        assert!(!silent.is_done(now));
        assert!(
            silent.is_done(now + Duration::from_millis(500)),
            "deadline ends gathering"
        );
    }
}
