//! Two [`Peer`]s wired in memory under a virtual clock: no sockets, no threads,
//! no sleeping. The model is str0m's `tests/common.rs` `progress()`: each step
//! delivers every queued datagram to the peer that owns its destination
//! address, then moves the shared clock to the earliest deadline (a peer's
//! timer or the next 20 ms media tick) and fires it.
//!
//! What runs here is the real stack: rtc's ICE, DTLS and SRTP, our SDP policy,
//! the media pipeline with real codecs; only the wire and the clock are fake.

use sipwire::audio::codec::CodecKind;
use sipwire::config::PeerConfig;
use sipwire::media::MediaEvent;
use sipwire::peer::{Description, Peer, PeerEvent, SdpType, SignalingState};
use sipwire::sdp::Direction;
use sipwire::tone;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(20);
/// Received audio is batched at this rate for the tone checks.
const HEAR_RATE: u32 = 16000;

struct Side {
    peer: Peer,
    addr: SocketAddr,
    heard: Vec<i16>,
    states: Vec<String>,
    signaling: Vec<&'static str>,
    warnings: Vec<String>,
}

impl Side {
    fn with_config(port: u16, now: Instant, cfg: PeerConfig) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let peer = Peer::new(cfg, vec![addr], now);
        Side {
            peer,
            addr,
            heard: vec![],
            states: vec![],
            signaling: vec![],
            warnings: vec![],
        }
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.peer.poll_event() {
            match ev {
                PeerEvent::ConnectionState(s) => self.states.push(s),
                PeerEvent::SignalingState(s) => self.signaling.push(s),
                PeerEvent::Warning(w) => self.warnings.push(w),
                PeerEvent::Media(MediaEvent::Audio { samples, .. }) => {
                    self.heard.extend_from_slice(&samples)
                }
                _ => {}
            }
        }
    }

    fn connected(&self) -> bool {
        self.peer.connection_state() == "connected"
    }

    /// Dominant frequency of the last `ms` of received audio.
    fn hears(&self, ms: usize) -> Option<f32> {
        let n = HEAR_RATE as usize * ms / 1000;
        if self.heard.len() < n {
            return None;
        }
        tone::dominant_frequency(&self.heard[self.heard.len() - n..], HEAR_RATE)
    }

    fn play_tone(&mut self, hz: f32) {
        let s = tone::sine(hz, 48000, 48000, 8000);
        self.peer.media_mut().play(1, &s, 48000, true).unwrap();
    }
}

struct Pair {
    a: Side,
    b: Side,
    now: Instant,
    next_tick: Instant,
    /// Datagrams delivered, for assertions that something crossed the wire.
    delivered: usize,
}

impl Pair {
    fn new() -> Self {
        Self::with_configs(PeerConfig::default(), PeerConfig::default())
    }

    fn with_configs(a: PeerConfig, b: PeerConfig) -> Self {
        let now = Instant::now();
        Pair {
            a: Side::with_config(40000, now, a),
            b: Side::with_config(40002, now, b),
            now,
            next_tick: now + TICK,
            delivered: 0,
        }
    }

    /// Deliver every queued datagram (both ways) until neither side has any.
    fn deliver(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = self.a.peer.poll_transmit() {
                moved = true;
                if t.remote == self.b.addr {
                    self.delivered += 1;
                    self.b
                        .peer
                        .handle_datagram(self.now, t.remote, t.local, &t.data);
                }
            }
            while let Some(t) = self.b.peer.poll_transmit() {
                moved = true;
                if t.remote == self.a.addr {
                    self.delivered += 1;
                    self.a
                        .peer
                        .handle_datagram(self.now, t.remote, t.local, &t.data);
                }
            }
            if !moved {
                break;
            }
        }
        self.a.drain_events();
        self.b.drain_events();
    }

    /// One step: deliver, then advance the clock to the next deadline and fire it.
    fn progress(&mut self) {
        self.deliver();
        let mut next = self.next_tick;
        for p in [&mut self.a.peer, &mut self.b.peer] {
            if let Some(t) = p.poll_timeout() {
                next = next.min(t.max(self.now));
            }
        }
        self.now = next;
        for p in [&mut self.a.peer, &mut self.b.peer] {
            if p.poll_timeout().is_some_and(|t| t <= self.now) {
                p.handle_timeout(self.now);
            }
        }
        if self.now >= self.next_tick {
            self.a.peer.media_tick(self.now);
            self.b.peer.media_tick(self.now);
            self.next_tick += TICK;
        }
        self.deliver();
    }

    /// Progress until `done` holds or `limit` of virtual time passes; returns
    /// the virtual time it took.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> Duration {
        let start = self.now;
        // Bounded in steps too: a peer whose deadline never moves must not spin.
        for _ in 0..200_000 {
            if done(self) {
                return self.now - start;
            }
            if self.now - start > limit {
                break;
            }
            self.progress();
        }
        panic!(
            "not done within {limit:?} of virtual time (a: {:?}, b: {:?})",
            self.a.states, self.b.states
        );
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.progress();
        }
    }

    fn side(&mut self, which: Who) -> &mut Side {
        match which {
            Who::A => &mut self.a,
            Who::B => &mut self.b,
        }
    }

    /// A full offer/answer from `offerer` to the other side, non-trickle
    /// (candidates in the SDP, as SIP does).
    fn negotiate(&mut self, offerer: Who, ice_restart: bool) -> (Description, Description) {
        let now = self.now;
        let offer = {
            let o = self.side(offerer);
            let offer = o.peer.create_offer(now, ice_restart).unwrap();
            o.peer.set_local_description(now, Some(offer)).unwrap();
            o.peer.local_description().unwrap()
        };
        let answer = {
            let r = self.side(offerer.other());
            r.peer.set_remote_description(now, offer.clone()).unwrap();
            let answer = r.peer.create_answer(now).unwrap();
            r.peer.set_local_description(now, Some(answer)).unwrap();
            r.peer.local_description().unwrap()
        };
        self.side(offerer)
            .peer
            .set_remote_description(now, answer.clone())
            .unwrap();
        (offer, answer)
    }

    fn connect(&mut self) -> Duration {
        self.run_until(Duration::from_secs(5), |p| {
            p.a.connected() && p.b.connected()
        })
    }

    /// Play a tone each way and check each side hears the other's.
    fn assert_audio_both_ways(&mut self, a_hz: f32, b_hz: f32) {
        self.a.play_tone(a_hz);
        self.b.play_tone(b_hz);
        self.run_for(Duration::from_millis(600));
        let (fa, fb) = (self.a.hears(200), self.b.hears(200));
        assert!(
            fb.is_some_and(|f| (f - a_hz).abs() < a_hz * 0.02),
            "B should hear {a_hz} Hz, heard {fb:?}"
        );
        assert!(
            fa.is_some_and(|f| (f - b_hz).abs() < b_hz * 0.02),
            "A should hear {b_hz} Hz, heard {fa:?}"
        );
    }

    fn subscribe(&mut self) {
        for s in [&mut self.a, &mut self.b] {
            s.peer.media_mut().subscribe_audio(HEAR_RATE, 100).unwrap();
        }
    }
}

#[derive(Clone, Copy)]
enum Who {
    A,
    B,
}

impl Who {
    fn other(self) -> Who {
        match self {
            Who::A => Who::B,
            Who::B => Who::A,
        }
    }
}

fn ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap_or_default()
        .to_string()
}

fn connected_pair(offerer: Who) -> Pair {
    let mut p = Pair::new();
    p.subscribe();
    p.negotiate(offerer, false);
    let took = p.connect();
    // Loopback with no loss: ICE + DTLS take a few round trips, never seconds.
    assert!(took < Duration::from_millis(500), "setup took {took:?}");
    p
}

#[test]
fn offer_answer_connects_and_carries_audio_both_ways() {
    let mut p = connected_pair(Who::A);
    assert!(p.delivered > 0);
    assert_eq!(p.a.peer.signaling_state(), SignalingState::Stable);
    assert_eq!(p.b.peer.signaling_state(), SignalingState::Stable);
    p.assert_audio_both_ways(1000.0, 440.0);
}

#[test]
fn the_other_side_offers() {
    let mut p = connected_pair(Who::B);
    p.assert_audio_both_ways(700.0, 1200.0);
}

#[test]
fn hold_and_unhold_keep_the_transport_and_gate_media() {
    let mut p = connected_pair(Who::A);
    p.assert_audio_both_ways(1000.0, 440.0);
    let states_before = (p.a.states.len(), p.b.states.len());

    // A holds: sendonly offer, B answers recvonly; B stops sending.
    p.a.peer.set_direction(Direction::SendOnly).unwrap();
    let (offer, answer) = p.negotiate(Who::A, false);
    assert!(offer.sdp.contains("a=sendonly"), "{}", offer.sdp);
    assert!(answer.sdp.contains("a=recvonly"), "{}", answer.sdp);
    p.run_for(Duration::from_millis(100));
    let sent = p.b.peer.media().stats().packets_sent;
    p.run_for(Duration::from_millis(400));
    assert_eq!(
        p.b.peer.media().stats().packets_sent,
        sent,
        "held: B must not send"
    );
    // B still hears A while A holds.
    let fb = p.b.hears(200);
    assert!(fb.is_some_and(|f| (f - 1000.0).abs() < 20.0), "{fb:?}");

    // Unhold: sendrecv again, audio both ways, and no new connection-state
    // transitions (same ICE and DTLS).
    p.a.peer.set_direction(Direction::SendRecv).unwrap();
    let (offer, _) = p.negotiate(Who::A, false);
    assert!(offer.sdp.contains("a=sendrecv"));
    p.assert_audio_both_ways(1000.0, 440.0);
    assert_eq!((p.a.states.len(), p.b.states.len()), states_before);
}

#[test]
fn ice_restart_changes_credentials_and_media_continues() {
    let mut p = connected_pair(Who::A);
    let before = ufrag(&p.a.peer.local_description().unwrap().sdp);
    let (offer, answer) = p.negotiate(Who::A, true);
    assert_ne!(
        ufrag(&offer.sdp),
        before,
        "an ICE restart needs a new ufrag"
    );
    assert_ne!(ufrag(&answer.sdp), "", "{}", answer.sdp);
    p.run_for(Duration::from_millis(200));
    p.assert_audio_both_ways(1000.0, 440.0);
}

#[test]
fn a_rolled_back_offer_leaves_the_connection_usable() {
    let mut p = connected_pair(Who::A);
    let now = p.now;
    let offer = p.a.peer.create_offer(now, false).unwrap();
    p.a.peer.set_local_description(now, Some(offer)).unwrap();
    assert_eq!(p.a.peer.signaling_state(), SignalingState::HaveLocalOffer);
    let rollback = Description {
        sdp_type: SdpType::Rollback,
        sdp: String::new(),
    };
    p.a.peer.set_local_description(now, Some(rollback)).unwrap();
    assert_eq!(p.a.peer.signaling_state(), SignalingState::Stable);
    // The next negotiation, from either side, succeeds and media still flows.
    p.negotiate(Who::B, false);
    p.assert_audio_both_ways(1000.0, 440.0);
}

#[test]
fn glare_is_resolved_by_one_side_rolling_back() {
    let mut p = connected_pair(Who::A);
    let now = p.now;
    // Both offer at once (a re-INVITE glare).
    let oa = p.a.peer.create_offer(now, false).unwrap();
    p.a.peer.set_local_description(now, Some(oa)).unwrap();
    let ob = p.b.peer.create_offer(now, false).unwrap();
    p.b.peer.set_local_description(now, Some(ob)).unwrap();
    let a_offer = p.a.peer.local_description().unwrap();
    // B cannot take A's offer while it has its own pending ...
    let err =
        p.b.peer
            .set_remote_description(now, a_offer.clone())
            .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_STATE");
    // ... so B (the polite side) rolls back and answers.
    let rollback = Description {
        sdp_type: SdpType::Rollback,
        sdp: String::new(),
    };
    p.b.peer.set_local_description(now, Some(rollback)).unwrap();
    p.b.peer.set_remote_description(now, a_offer).unwrap();
    let answer = p.b.peer.create_answer(now).unwrap();
    p.b.peer.set_local_description(now, Some(answer)).unwrap();
    let answer = p.b.peer.local_description().unwrap();
    p.a.peer.set_remote_description(now, answer).unwrap();
    assert_eq!(p.a.peer.signaling_state(), SignalingState::Stable);
    assert_eq!(p.b.peer.signaling_state(), SignalingState::Stable);
    p.assert_audio_both_ways(1000.0, 440.0);
}

#[test]
fn close_is_final_and_idempotent() {
    let mut p = connected_pair(Who::A);
    p.a.peer.close();
    p.a.peer.close();
    p.deliver();
    assert_eq!(p.a.peer.signaling_state(), SignalingState::Closed);
    assert_eq!(p.a.peer.connection_state(), "closed");
    assert_eq!(
        p.a.states.iter().filter(|s| *s == "closed").count(),
        1,
        "closed is reported once: {:?}",
        p.a.states
    );
    let now = p.now;
    let err = p.a.peer.create_offer(now, false).unwrap_err();
    assert_eq!(err.code(), "ERR_CLOSED");
    // A closed peer sends no more media.
    let sent = p.a.peer.media().stats().packets_sent;
    p.run_for(Duration::from_millis(200));
    assert_eq!(p.a.peer.media().stats().packets_sent, sent);
}

fn m_line(sdp: &str) -> &str {
    sdp.lines().find(|l| l.starts_with("m=audio")).unwrap()
}

#[test]
fn default_offer_lists_g722_after_opus_and_g729_last() {
    let mut p = Pair::new();
    let (offer, answer) = p.negotiate(Who::A, false);
    let fmts: Vec<&str> = m_line(&offer.sdp).split(' ').skip(3).collect();
    assert_eq!(&fmts[..5], ["111", "9", "0", "8", "18"], "{}", offer.sdp);
    assert!(offer.sdp.contains("a=rtpmap:9 G722/8000\r\n"));
    assert!(offer.sdp.contains("a=fmtp:18 annexb=no\r\n"));
    // Two defaults settle on Opus.
    assert!(
        m_line(&answer.sdp).split(' ').nth(3) == Some("111"),
        "{}",
        answer.sdp
    );
}

/// An offer of only G.722, or only G.729 (a trunk), is answered by a peer
/// with the default codecs; audio crosses both ways, and for G.722 a 6 kHz
/// tone does too, which only wideband audio can carry.
#[test]
fn g722_or_g729_only_offers_are_answered_and_carry_audio() {
    for (kind, rtpmap) in [
        (CodecKind::G722, "a=rtpmap:9 G722/8000\r\n"),
        (CodecKind::G729, "a=rtpmap:18 G729/8000\r\n"),
    ] {
        let only = PeerConfig {
            codecs: vec![kind],
            ..PeerConfig::default()
        };
        let mut p = Pair::with_configs(only, PeerConfig::default());
        p.subscribe();
        let (offer, answer) = p.negotiate(Who::A, false);
        for d in [&offer, &answer] {
            assert!(d.sdp.contains(rtpmap), "{kind:?}: {}", d.sdp);
            let fmts: Vec<&str> = m_line(&d.sdp).split(' ').skip(3).collect();
            assert_eq!(fmts[0], rtpmap[9..].split(' ').next().unwrap());
            assert_eq!(
                d.sdp.contains("a=fmtp:18 annexb=no\r\n"),
                kind == CodecKind::G729,
                "{kind:?}: {}",
                d.sdp
            );
        }
        p.connect();
        for s in [&p.a, &p.b] {
            assert_eq!(s.peer.media().send_codec().unwrap().kind, kind);
        }
        p.assert_audio_both_ways(1000.0, 440.0);
        // 6 kHz: through G.722 it arrives; through an 8 kHz codec it is gone
        // (or folded to 2 kHz).
        p.a.peer.media_mut().stop_playback(&mut Vec::new());
        p.a.play_tone(6000.0);
        p.run_for(Duration::from_millis(600));
        let tail = &p.b.heard[p.b.heard.len() - HEAR_RATE as usize / 5..];
        let p6 = tone::goertzel_power(tail, HEAR_RATE, 6000.0);
        let p2 = tone::goertzel_power(tail, HEAR_RATE, 2000.0);
        if kind == CodecKind::G722 {
            assert!(
                p6 > 1e6 && p6 > 1000.0 * p2,
                "{kind:?}: 6 kHz {p6}, 2 kHz {p2}"
            );
        } else {
            assert!(p6 < 1e4, "{kind:?} cannot carry 6 kHz: {p6}");
        }
    }
}
