//! [`MediaTransport`] for the plain profiles: RTP/AVP, and RTP/SAVP keyed
//! by SDES, straight over the call's UDP socket with no ICE and no DTLS.
//! Where to send and what to accept is [`crate::plain_rtp`] (latching,
//! RTCP addresses, SRTP); this adds the packet codec (marshal/unmarshal),
//! `a=ptime` on send ([`crate::audio::aggregate`]) and the queues the peer
//! drains. There is no handshake: nothing here has timers or states. When we
//! answered an offer with ICE, STUN checks are answered as ICE-lite
//! ([`crate::ice_lite`]) and a nominated one moves the media.

use super::{MediaIn, MediaTransport, Transmit, TransportEvent};
use crate::audio::aggregate::Aggregator;
use crate::ice_lite::IceLite;
use crate::plain_rtp::{Inbound, PlainRtp};
use bytes::BytesMut;
use rtc::rtcp::packet::Packet as RtcpPacket;
use rtc::rtp::packet::Packet as RtpPacket;
use rtc::shared::marshal::{Marshal, Unmarshal};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// RFC 3551 comfort noise: accepted, never played (silence is what the
/// jitter buffer gives anyway), never offered.
const CN: u8 = 13;

/// See the module docs.
pub struct PlainTransport {
    /// The wire rules.
    pub rtp: PlainRtp,
    locals: Vec<SocketAddr>,
    /// Our RTCP sockets at RTP port + 1 (RFC 3550 §11), when bound.
    rtcp_locals: Vec<SocketAddr>,
    /// Payload types accepted (negotiated audio, telephone-event, CN).
    payload_types: Vec<u8>,
    /// Joins G.711 frames for the far end's `a=ptime`; once made it stays
    /// (it renumbers the stream).
    aggregator: Option<Aggregator>,
    joinable: Vec<u8>,
    media_in: VecDeque<MediaIn>,
    out: VecDeque<Transmit>,
    /// ICE-lite responder, when we answered an offer with ICE.
    pub ice: Option<IceLite>,
}

impl PlainTransport {
    /// A transport sending from one of `locals` (the family of the destination).
    pub fn new(locals: Vec<SocketAddr>) -> Self {
        PlainTransport {
            rtp: PlainRtp::new(None),
            locals,
            rtcp_locals: Vec::new(),
            payload_types: Vec::new(),
            aggregator: None,
            joinable: Vec::new(),
            media_in: VecDeque::new(),
            out: VecDeque::new(),
            ice: None,
        }
    }

    /// The payload types to accept (CN is always added).
    pub fn set_payload_types(&mut self, mut pts: Vec<u8>) {
        pts.push(CN);
        pts.sort_unstable();
        pts.dedup();
        self.payload_types = pts;
    }

    /// Send `frames` x 20 ms per packet for payload types `joinable` (G.711).
    pub fn set_frames_per_packet(&mut self, frames: usize, joinable: Vec<u8>) {
        self.joinable = joinable;
        match (&mut self.aggregator, frames) {
            (None, 0 | 1) => {}
            (None, n) => self.aggregator = Some(Aggregator::new(n, rand::random())),
            (Some(a), n) => *a = Aggregator::new(n, a.next_seq()),
        }
    }

    /// Our socket address for a destination.
    pub fn local_for(&self, remote: Option<SocketAddr>) -> SocketAddr {
        let v4 = remote.is_none_or(|r| r.is_ipv4());
        self.locals
            .iter()
            .find(|a| a.is_ipv4() == v4)
            .or(self.locals.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9)))
    }

    /// Our RTCP sockets at RTP port + 1 (empty when none could be bound).
    pub fn set_rtcp_locals(&mut self, rtcp: Vec<SocketAddr>) {
        self.rtcp_locals = rtcp;
    }

    /// Our RTCP socket for a destination, if one is bound.
    pub fn rtcp_local_for(&self, remote: Option<SocketAddr>) -> Option<SocketAddr> {
        let v4 = remote.is_none_or(|r| r.is_ipv4());
        self.rtcp_locals.iter().find(|a| a.is_ipv4() == v4).copied()
    }

    fn queue(&mut self, sent: Option<(SocketAddr, BytesMut)>, rtcp: bool) {
        if let Some((to, data)) = sent {
            // Without rtcp-mux our reports leave from the RTCP socket, so a
            // peer that latches (or filters) by source sees port + 1.
            let local = (rtcp && !self.rtp.rtcp_mux())
                .then(|| self.rtcp_local_for(Some(to)))
                .flatten()
                .unwrap_or_else(|| self.local_for(Some(to)));
            self.out.push_back(Transmit {
                local,
                remote: to,
                data,
            });
        }
    }
}

impl MediaTransport for PlainTransport {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if let Some(ice) = self.ice.as_mut().filter(|_| crate::ice_lite::is_stun(data)) {
            if let Some(check) = ice.handle(remote, data) {
                if check.nominated {
                    self.rtp.nominate(now, check.component, remote);
                }
                self.out.push_back(Transmit {
                    local,
                    remote,
                    data: BytesMut::from(&check.response[..]),
                });
            }
            return;
        }
        if self.rtcp_locals.contains(&local) && !crate::plain_rtp::is_rtcp(data) {
            // The RTCP port takes RTCP only: RTP there is a stray or an attack.
            self.rtp.dropped += 1;
            log::trace!("plain RTP: dropped a non-RTCP datagram on the RTCP port from {remote}");
            return;
        }
        match self.rtp.on_datagram(now, remote, data, &self.payload_types) {
            Inbound::Rtp(bytes) => {
                if let Ok(pkt) = RtpPacket::unmarshal(&mut &bytes[..]) {
                    if pkt.header.payload_type != CN {
                        self.media_in.push_back(MediaIn::Rtp(pkt));
                    }
                }
            }
            Inbound::Rtcp(bytes) => {
                if let Ok(pkts) = rtc::rtcp::packet::unmarshal(&mut &bytes[..]) {
                    self.media_in.push_back(MediaIn::Rtcp(pkts));
                }
            }
            Inbound::Dropped(why) => {
                log::trace!("plain RTP: dropped a datagram from {remote}: {why}")
            }
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poke(&mut self, _now: Instant) {}

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }

    fn refresh_timeout(&mut self) {}

    fn send_rtp(&mut self, _now: Instant, pkt: RtpPacket) {
        let pkts = match self.aggregator.as_mut() {
            Some(a) => a.push(pkt, &self.joinable),
            None => vec![pkt],
        };
        for p in pkts {
            if let Ok(raw) = p.marshal() {
                let sent = self.rtp.send_rtp(&raw);
                self.queue(sent, false);
            }
        }
    }

    fn send_rtcp(&mut self, _now: Instant, pkts: Vec<Box<dyn RtcpPacket>>) {
        if let Ok(raw) = rtc::rtcp::packet::marshal(&pkts) {
            let sent = self.rtp.send_rtcp(&raw);
            self.queue(sent, true);
        }
    }

    fn poll_media(&mut self) -> Option<MediaIn> {
        self.media_in.pop_front()
    }

    fn poll_event(&mut self) -> Option<TransportEvent> {
        None
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn remote_closed(&mut self) -> Option<&'static str> {
        None
    }

    fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plain_rtp::RemoteMedia;
    use rtc::rtp::header::Header;

    #[test]
    fn sends_to_the_sdp_address_and_delivers_what_arrives() {
        let now = Instant::now();
        let me: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let far: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let mut t = PlainTransport::new(vec![me]);
        t.rtp.set_remote(RemoteMedia {
            rtp: Some(far),
            rtcp: None,
            rtcp_mux: false,
        });
        t.set_payload_types(vec![0]);
        let pkt = RtpPacket {
            header: Header {
                version: 2,
                payload_type: 0,
                ssrc: 9,
                ..Default::default()
            },
            payload: vec![0xff; 160].into(),
        };
        t.send_rtp(now, pkt.clone());
        let tx = t.poll_transmit().unwrap();
        assert_eq!((tx.local, tx.remote, tx.data.len()), (me, far, 172));
        t.handle_datagram(now, me, far, &tx.data);
        assert!(matches!(t.poll_media(), Some(MediaIn::Rtp(p)) if p == pkt));
        // CN is accepted (it latches) but not played.
        let mut cn = tx.data.to_vec();
        cn[1] = CN;
        t.handle_datagram(now, me, far, &cn);
        assert!(t.poll_media().is_none());
        assert_eq!(t.rtp.dropped, 0);
    }

    #[test]
    fn ice_lite_answers_checks_and_a_nominated_one_moves_the_media() {
        let now = Instant::now();
        let me: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let sdp_addr: SocketAddr = "192.0.2.1:50000".parse().unwrap();
        let host: SocketAddr = "10.0.0.9:50000".parse().unwrap();
        let mut t = PlainTransport::new(vec![me]);
        t.rtp.set_remote(RemoteMedia {
            rtp: Some(sdp_addr),
            rtcp: None,
            rtcp_mux: true,
        });
        t.set_payload_types(vec![0]);
        let ice = IceLite::new("full".into());
        let (user, pwd) = (format!("{}:full", ice.ufrag()), ice.pwd().to_string());
        t.ice = Some(ice);
        let prio = crate::ice_lite::host_priority(1);
        // A check that does not nominate is answered and moves nothing.
        let req = crate::ice_lite::tests::check(&user, &pwd, prio, false);
        t.handle_datagram(now, me, host, &req);
        let tx = t.poll_transmit().expect("a response");
        assert_eq!((tx.local, tx.remote), (me, host));
        assert_eq!(t.rtp.rtp_destination(), Some(sdp_addr));
        // A wrong password gets nothing; it is not media either.
        let bad = crate::ice_lite::tests::check(&user, "not-our-password-000000", prio, true);
        t.handle_datagram(now, me, host, &bad);
        assert!(t.poll_transmit().is_none());
        assert!(t.poll_media().is_none());
        // The nominated one: media goes to the check's source.
        let req = crate::ice_lite::tests::check(&user, &pwd, prio, true);
        t.handle_datagram(now, me, host, &req);
        assert!(t.poll_transmit().is_some());
        assert_eq!(t.rtp.rtp_destination(), Some(host));
        assert_eq!(t.ice.as_ref().unwrap().answered, 2);
    }

    #[test]
    fn rtcp_port_takes_only_rtcp_and_our_reports_leave_from_it() {
        let now = Instant::now();
        let me: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let me_rtcp: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let far: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let far_rtcp: SocketAddr = "127.0.0.1:50001".parse().unwrap();
        let mut t = PlainTransport::new(vec![me]);
        t.set_rtcp_locals(vec![me_rtcp]);
        t.rtp.set_remote(RemoteMedia {
            rtp: Some(far),
            rtcp: None,
            rtcp_mux: false,
        });
        t.set_payload_types(vec![0]);
        let rr: Vec<Box<dyn RtcpPacket>> =
            vec![Box::new(rtc::rtcp::receiver_report::ReceiverReport {
                ssrc: 7,
                ..Default::default()
            })];
        t.send_rtcp(now, rr);
        let tx = t.poll_transmit().unwrap();
        assert_eq!((tx.local, tx.remote), (me_rtcp, far_rtcp));
        // The far end's report to our port + 1 is delivered as RTCP.
        t.handle_datagram(now, me_rtcp, far_rtcp, &tx.data);
        assert!(matches!(t.poll_media(), Some(MediaIn::Rtcp(_))));
        // RTP or garbage there is dropped and latches nothing.
        let rtp = [0x80u8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xff, 0xff];
        t.handle_datagram(now, me_rtcp, "127.0.0.1:6666".parse().unwrap(), &rtp);
        t.handle_datagram(now, me_rtcp, far_rtcp, b"garbage");
        assert!(t.poll_media().is_none());
        assert_eq!(t.rtp.dropped, 2);
        assert_eq!(t.rtp.latched(), None);
        // With rtcp-mux our reports leave from the RTP socket.
        t.rtp.set_remote(RemoteMedia {
            rtp: Some(far),
            rtcp: None,
            rtcp_mux: true,
        });
        t.send_rtcp(
            now,
            vec![Box::new(
                rtc::rtcp::receiver_report::ReceiverReport::default(),
            )],
        );
        assert_eq!(t.poll_transmit().unwrap().local, me);
    }
}
