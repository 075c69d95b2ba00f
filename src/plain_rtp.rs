//! RTP straight over UDP, without ICE or DTLS (RTP/AVP, and RTP/SAVP keyed by
//! SDES): where to send, what to accept, and symmetric RTP.
//!
//! Phones and trunks behind NAT write their private address in `c=`; the
//! media they send arrives from their public one. So the first valid RTP
//! packet *latches* the send address to its source ("comedia", symmetric
//! RTP), and the same for RTCP. Once latched, packets from any other source
//! are dropped (a stranger who learns our port cannot take the call over)
//! unless the latched source has been silent for [`RELATCH_AFTER`], which is
//! how a phone that really moved (Wi-Fi to LTE) gets its audio back. A
//! re-INVITE with a new `c=`/`m=` address starts over. With SRTP only packets
//! that authenticate count, so latching cannot be hijacked at all.
//!
//! Sans-IO: datagrams and `Instant`s come in, [`Inbound`] values and
//! `(destination, bytes)` pairs go out.
//!
//! ```
//! use sipwire::plain_rtp::{PlainRtp, RemoteMedia, Inbound};
//! use std::time::Instant;
//! let mut t = PlainRtp::new(None);
//! t.set_remote(RemoteMedia { rtp: Some("192.0.2.1:4000".parse().unwrap()), rtcp: None, rtcp_mux: false });
//! assert_eq!(t.rtcp_destination(), Some("192.0.2.1:4001".parse().unwrap()));
//! let pkt = [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
//! let from = "198.51.100.7:5000".parse().unwrap();
//! assert!(matches!(t.on_datagram(Instant::now(), from, &pkt, &[0]), Inbound::Rtp(_)));
//! assert_eq!(t.rtp_destination(), Some(from));
//! ```

use crate::sdes::SrtpPair;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A latched source silent this long may be replaced by a new one.
pub const RELATCH_AFTER: Duration = Duration::from_secs(2);

/// Where the far end said it receives, from its SDP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoteMedia {
    /// `c=` address and `m=` port; `None` for `c=0.0.0.0` (old-style hold)
    /// or port 0.
    pub rtp: Option<SocketAddr>,
    /// `a=rtcp:` (RFC 3605), if given.
    pub rtcp: Option<SocketAddr>,
    /// Both sides agreed to `a=rtcp-mux`.
    pub rtcp_mux: bool,
}

/// What an incoming datagram turned out to be.
#[derive(Debug)]
pub enum Inbound {
    /// An RTP packet (decrypted if SRTP), from an accepted source.
    Rtp(BytesMut),
    /// An RTCP compound packet (decrypted if SRTCP), from an accepted source.
    Rtcp(BytesMut),
    /// Dropped, with the reason (for counters and debug logs).
    Dropped(&'static str),
}

#[derive(Clone, Copy, Debug)]
struct Latch {
    addr: SocketAddr,
    last: Instant,
}

/// The transport of one call in a plain profile.
pub struct PlainRtp {
    remote: RemoteMedia,
    rtp_latch: Option<Latch>,
    rtcp_latch: Option<Latch>,
    srtp: Option<SrtpPair>,
    /// Datagrams dropped (garbage, strangers, failed authentication).
    pub dropped: u64,
    /// SRTP/SRTCP packets that did not authenticate.
    pub auth_failures: u64,
}

/// RFC 5761 §4: RTCP packet types 192-223 share the first byte's range with
/// RTP, and the second byte (marker + payload type) tells them apart.
pub(crate) fn is_rtcp(data: &[u8]) -> bool {
    matches!(data.get(1), Some(192..=223))
}

fn is_rtp_version_2(data: &[u8]) -> bool {
    matches!(data.first(), Some(b) if b >> 6 == 2)
}

impl PlainRtp {
    /// A transport; `srtp` keys it for RTP/SAVP, `None` is plain RTP/AVP.
    pub fn new(srtp: Option<SrtpPair>) -> Self {
        PlainRtp {
            remote: RemoteMedia::default(),
            rtp_latch: None,
            rtcp_latch: None,
            srtp,
            dropped: 0,
            auth_failures: 0,
        }
    }

    /// New remote addresses from an offer or answer. A changed address
    /// forgets the latches (the far end moved on purpose); the same address
    /// again (a hold re-INVITE) keeps them.
    pub fn set_remote(&mut self, remote: RemoteMedia) {
        if remote.rtp != self.remote.rtp || remote.rtcp != self.remote.rtcp {
            self.rtp_latch = None;
            self.rtcp_latch = None;
        }
        self.remote = remote;
    }

    /// New SRTP keys (a re-INVITE with new `a=crypto`), or none.
    pub fn set_srtp(&mut self, srtp: Option<SrtpPair>) {
        self.srtp = srtp;
    }

    /// True when the far end multiplexes RTCP on its RTP port.
    pub fn rtcp_mux(&self) -> bool {
        self.remote.rtcp_mux
    }

    /// True when SRTP protects the media.
    pub fn is_secure(&self) -> bool {
        self.srtp.is_some()
    }

    /// Where RTP goes: the latched source, else the SDP address.
    pub fn rtp_destination(&self) -> Option<SocketAddr> {
        self.remote.rtp?;
        self.rtp_latch.map(|l| l.addr).or(self.remote.rtp)
    }

    /// Where RTCP goes: the latched RTCP source, else the RTP destination
    /// with rtcp-mux, else `a=rtcp`, else the RTP port + 1 (RFC 3550 §11).
    pub fn rtcp_destination(&self) -> Option<SocketAddr> {
        let rtp = self.remote.rtp?;
        if let Some(l) = self.rtcp_latch {
            return Some(l.addr);
        }
        if self.remote.rtcp_mux {
            return self.rtp_destination();
        }
        if let Some(a) = self.remote.rtcp {
            return Some(a);
        }
        let mut a = rtp;
        a.set_port(rtp.port().checked_add(1)?);
        Some(a)
    }

    /// An ICE check nominated `addr` for RTP (`component` 1) or RTCP (2):
    /// send there from now on. Checks are authenticated (our ICE password),
    /// so this overrides a latch at once (see [`crate::ice_lite`]).
    pub fn nominate(&mut self, now: Instant, component: u16, addr: SocketAddr) {
        let l = Some(Latch { addr, last: now });
        if component == 2 {
            self.rtcp_latch = l;
        } else {
            if self.rtp_latch.is_none_or(|x| x.addr != addr) {
                log::debug!("plain RTP: ICE nominated {addr}");
            }
            self.rtp_latch = l;
        }
    }

    /// The source media is latched to, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.rtp_latch.map(|l| l.addr)
    }

    /// One datagram from `from`. `payload_types` are the RTP payload types
    /// negotiated: a packet with another one neither latches nor plays.
    pub fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        payload_types: &[u8],
    ) -> Inbound {
        let r = self.classify(now, from, data, payload_types);
        if matches!(r, Inbound::Dropped(_)) {
            self.dropped += 1;
        }
        r
    }

    fn classify(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        payload_types: &[u8],
    ) -> Inbound {
        if data.len() < 8 || !is_rtp_version_2(data) {
            return Inbound::Dropped("not RTP or RTCP");
        }
        let rtcp = is_rtcp(data);
        if !rtcp && data.len() < 12 {
            return Inbound::Dropped("short RTP packet");
        }
        if !rtcp && !payload_types.contains(&(data[1] & 0x7f)) {
            return Inbound::Dropped("payload type not negotiated");
        }
        let latch = if rtcp {
            self.rtcp_latch
        } else {
            self.rtp_latch
        };
        let accepted = match latch {
            None => true,
            Some(l) if l.addr == from => true,
            Some(l) => now.saturating_duration_since(l.last) >= RELATCH_AFTER,
        };
        if !accepted {
            return Inbound::Dropped("source differs from the latched one");
        }
        // Decrypt before latching: with SRTP only the key holder latches.
        let plain = match (&mut self.srtp, rtcp) {
            (None, _) => BytesMut::from(data),
            (Some(s), false) => match s.unprotect_rtp(data) {
                Some(p) => p,
                None => {
                    self.auth_failures += 1;
                    return Inbound::Dropped("SRTP authentication failed");
                }
            },
            (Some(s), true) => match s.unprotect_rtcp(data) {
                Some(p) => p,
                None => {
                    self.auth_failures += 1;
                    return Inbound::Dropped("SRTCP authentication failed");
                }
            },
        };
        let l = Some(Latch {
            addr: from,
            last: now,
        });
        if rtcp {
            self.rtcp_latch = l;
            Inbound::Rtcp(plain)
        } else {
            if self.rtp_latch.is_none_or(|x| x.addr != from) {
                log::debug!("plain RTP: latched media to {from}");
            }
            self.rtp_latch = l;
            Inbound::Rtp(plain)
        }
    }

    /// A marshalled RTP packet to send: `(destination, bytes)`, `None` while
    /// there is no destination (hold with `c=0.0.0.0`) or SRTP failed.
    pub fn send_rtp(&mut self, plain: &[u8]) -> Option<(SocketAddr, BytesMut)> {
        let to = self.rtp_destination()?;
        let data = match &mut self.srtp {
            None => BytesMut::from(plain),
            Some(s) => s.protect_rtp(plain)?,
        };
        Some((to, data))
    }

    /// A marshalled RTCP compound packet to send.
    pub fn send_rtcp(&mut self, plain: &[u8]) -> Option<(SocketAddr, BytesMut)> {
        let to = self.rtcp_destination()?;
        let data = match &mut self.srtp {
            None => BytesMut::from(plain),
            Some(s) => s.protect_rtcp(plain)?,
        };
        Some((to, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdes::{CryptoAttr, Suite};

    fn rtp(pt: u8, seq: u16) -> Vec<u8> {
        let s = seq.to_be_bytes();
        let mut v = vec![0x80, pt, s[0], s[1], 0, 0, 0, 0, 0, 0, 0, 7];
        v.extend_from_slice(&[0xff; 160]);
        v
    }
    const RR: [u8; 8] = [0x80, 201, 0, 1, 0, 0, 0, 7];

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn remote(rtp: &str) -> RemoteMedia {
        RemoteMedia {
            rtp: Some(addr(rtp)),
            rtcp: None,
            rtcp_mux: false,
        }
    }

    #[test]
    fn rtcp_destination_rules() {
        let mut t = PlainRtp::new(None);
        assert_eq!(t.rtp_destination(), None);
        t.set_remote(remote("10.0.0.1:4000"));
        assert_eq!(t.rtcp_destination(), Some(addr("10.0.0.1:4001")));
        t.set_remote(RemoteMedia {
            rtcp: Some(addr("10.0.0.2:7000")),
            ..remote("10.0.0.1:4000")
        });
        assert_eq!(t.rtcp_destination(), Some(addr("10.0.0.2:7000")));
        t.set_remote(RemoteMedia {
            rtcp_mux: true,
            ..remote("10.0.0.1:4000")
        });
        assert_eq!(t.rtcp_destination(), Some(addr("10.0.0.1:4000")));
        // Hold with c=0.0.0.0: nothing is sent at all.
        t.set_remote(RemoteMedia::default());
        assert_eq!(t.send_rtp(&rtp(0, 1)), None);
        assert_eq!(t.send_rtcp(&RR), None);
    }

    #[test]
    fn latches_then_refuses_strangers_then_relatches_after_silence() {
        let t0 = Instant::now();
        let mut t = PlainRtp::new(None);
        t.set_remote(remote("10.0.0.1:4000"));
        let nat = addr("203.0.113.5:31000");
        let evil = addr("198.51.100.66:9999");
        assert!(matches!(
            t.on_datagram(t0, nat, &rtp(0, 1), &[0, 101]),
            Inbound::Rtp(_)
        ));
        assert_eq!(t.rtp_destination(), Some(nat));
        let (to, _) = t.send_rtp(&rtp(0, 1)).unwrap();
        assert_eq!(to, nat);
        // A stranger while the source is alive: dropped, destination kept.
        let t1 = t0 + Duration::from_millis(500);
        assert!(matches!(
            t.on_datagram(t1, evil, &rtp(0, 2), &[0]),
            Inbound::Dropped(_)
        ));
        assert_eq!(t.rtp_destination(), Some(nat));
        assert!(matches!(
            t.on_datagram(t1, nat, &rtp(0, 3), &[0]),
            Inbound::Rtp(_)
        ));
        // The latched source went quiet: a new one takes over.
        let t2 = t1 + RELATCH_AFTER;
        assert!(matches!(
            t.on_datagram(t2, evil, &rtp(0, 4), &[0]),
            Inbound::Rtp(_)
        ));
        assert_eq!(t.latched(), Some(evil));
        assert_eq!(t.dropped, 1);
    }

    #[test]
    fn garbage_and_unknown_payload_types_do_not_latch() {
        let t0 = Instant::now();
        let mut t = PlainRtp::new(None);
        t.set_remote(remote("10.0.0.1:4000"));
        let x = addr("198.51.100.66:9999");
        for junk in [
            &b""[..],
            b"hello world, not rtp",
            &[0x80, 0, 1],
            &[0u8; 200],
        ] {
            assert!(matches!(
                t.on_datagram(t0, x, junk, &[0]),
                Inbound::Dropped(_)
            ));
        }
        assert!(matches!(
            t.on_datagram(t0, x, &rtp(96, 1), &[0]),
            Inbound::Dropped(_)
        ));
        assert_eq!(t.latched(), None);
        assert_eq!(t.rtp_destination(), Some(addr("10.0.0.1:4000")));
    }

    #[test]
    fn rtcp_latches_separately_and_mux_demuxes() {
        let t0 = Instant::now();
        let mut t = PlainRtp::new(None);
        t.set_remote(remote("10.0.0.1:4000"));
        let src = addr("203.0.113.5:31001");
        assert!(matches!(
            t.on_datagram(t0, src, &RR, &[0]),
            Inbound::Rtcp(_)
        ));
        assert_eq!(t.rtcp_destination(), Some(src));
        assert_eq!(t.rtp_destination(), Some(addr("10.0.0.1:4000")));
    }

    #[test]
    fn readdressing_forgets_the_latch_and_hold_keeps_it() {
        let t0 = Instant::now();
        let mut t = PlainRtp::new(None);
        t.set_remote(remote("10.0.0.1:4000"));
        let nat = addr("203.0.113.5:31000");
        t.on_datagram(t0, nat, &rtp(0, 1), &[0]);
        t.set_remote(remote("10.0.0.1:4000"));
        assert_eq!(t.latched(), Some(nat));
        t.set_remote(remote("10.0.0.9:5000"));
        assert_eq!(t.latched(), None);
        assert_eq!(t.rtp_destination(), Some(addr("10.0.0.9:5000")));
    }

    #[test]
    fn srtp_only_authenticated_packets_latch() {
        let mut f1 = |b: &mut [u8]| b.fill(1);
        let mut f2 = |b: &mut [u8]| b.fill(2);
        let a = CryptoAttr::generate(1, Suite::AesCm128HmacSha1_80, &mut f1);
        let b = CryptoAttr::generate(1, Suite::AesCm128HmacSha1_80, &mut f2);
        let t0 = Instant::now();
        let mut alice = PlainRtp::new(Some(SrtpPair::new(&a, &b).unwrap()));
        let mut bob = PlainRtp::new(Some(SrtpPair::new(&b, &a).unwrap()));
        let mut eve = PlainRtp::new(Some(SrtpPair::new(&b, &b).unwrap()));
        for x in [&mut alice, &mut bob, &mut eve] {
            x.set_remote(remote("10.0.0.1:4000"));
        }
        let (_, forged) = eve.send_rtp(&rtp(0, 1)).unwrap();
        let evil = addr("198.51.100.66:9999");
        assert!(matches!(
            bob.on_datagram(t0, evil, &forged, &[0]),
            Inbound::Dropped(_)
        ));
        assert_eq!((bob.latched(), bob.auth_failures), (None, 1));
        let (_, wire) = alice.send_rtp(&rtp(0, 1)).unwrap();
        let from = addr("203.0.113.5:31000");
        match bob.on_datagram(t0, from, &wire, &[0]) {
            Inbound::Rtp(p) => assert_eq!(&p[..], &rtp(0, 1)[..]),
            other => panic!("{other:?}"),
        }
        assert_eq!(bob.latched(), Some(from));
        let (_, w) = alice.send_rtcp(&RR).unwrap();
        assert!(matches!(
            bob.on_datagram(t0, from, &w, &[0]),
            Inbound::Rtcp(_)
        ));
    }
}
