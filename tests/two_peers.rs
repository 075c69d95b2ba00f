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
use sipwire::identity::Identity;
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
    rtp_timeouts: usize,
}

impl Side {
    fn new(port: u16, now: Instant, cfg: PeerConfig) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Seeded: SSRCs, RTP origins, ICE credentials and DTLS randoms repeat
        // from run to run, so a failure reproduces.
        let peer = Peer::with_identity(cfg, vec![addr], now, Identity::seeded(port as u64));
        Side {
            peer,
            addr,
            heard: vec![],
            states: vec![],
            signaling: vec![],
            warnings: vec![],
            rtp_timeouts: 0,
        }
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.peer.poll_event() {
            match ev {
                PeerEvent::ConnectionState(s) => self.states.push(s),
                PeerEvent::SignalingState(s) => self.signaling.push(s),
                PeerEvent::Warning(w) => self.warnings.push(w),
                PeerEvent::CodedWarning { code, message } => {
                    self.warnings.push(format!("{code}: {message}"))
                }
                PeerEvent::Media(MediaEvent::RtpTimeout) => self.rtp_timeouts += 1,
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
        // A new tone replaces the looping one (a loop never ends by itself).
        let mut ended = Vec::new();
        self.peer.media_mut().stop_playback(&mut ended);
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
    /// Deliver at most this many of B's DTLS datagrams (RFC 7983: first
    /// byte 20..=63), then drop the rest on the wire.
    b_dtls_budget: Option<u32>,
}

impl Pair {
    fn new() -> Self {
        Pair::with_configs(PeerConfig::default(), PeerConfig::default())
    }

    fn with_configs(a: PeerConfig, b: PeerConfig) -> Self {
        let now = Instant::now();
        Pair {
            a: Side::new(40000, now, a),
            b: Side::new(40002, now, b),
            now,
            next_tick: now + TICK,
            delivered: 0,
            b_dtls_budget: None,
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
                if let (Some(left), Some(20..=63)) = (self.b_dtls_budget.as_mut(), t.data.first()) {
                    if *left == 0 {
                        continue;
                    }
                    *left -= 1;
                }
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

/// A DTLS alert in the middle of the handshake (the far end refused our
/// certificate, or hung up while connecting) fails the connection at once,
/// not after ICE consent runs out 30 s later.
#[test]
fn an_alert_during_the_dtls_handshake_fails_the_connection() {
    for (label, alert) in [
        ("fatal handshake_failure", [2u8, 40]),
        ("close_notify", [1, 0]),
    ] {
        let mut p = Pair::new();
        // B (the answerer) is the DTLS client: A sees its ClientHellos
        // (before and after the cookie) and answers, then B falls silent.
        p.b_dtls_budget = Some(2);
        p.negotiate(Who::A, false);
        p.run_until(Duration::from_secs(5), |p| p.b_dtls_budget == Some(0));
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.a.peer.connection_state(), "connecting", "{label}");
        // B's alert, in the clear at epoch 0 as a handshake alert is.
        let mut record = vec![21u8, 254, 253, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2];
        record.extend_from_slice(&alert);
        let (now, from, to) = (p.now, p.b.addr, p.a.addr);
        p.a.peer.handle_datagram(now, to, from, &record);
        let took = p.run_until(Duration::from_secs(35), |p| {
            matches!(p.a.peer.connection_state(), "failed" | "closed")
        });
        p.deliver();
        eprintln!(
            "{label}: A is {} after {took:?}, warnings {:?}",
            p.a.peer.connection_state(),
            p.a.warnings
        );
        assert!(took < Duration::from_secs(2), "{label}: took {took:?}");
        assert_eq!(p.a.peer.connection_state(), "failed", "{label}");
        assert!(
            p.a.warnings
                .iter()
                .any(|w| w.starts_with("remote-closed: ")),
            "{label}: {:?}",
            p.a.warnings
        );
    }
}

/// With seeded identities a call setup repeats itself: the same ICE
/// credentials and SSRCs in the SDP, the same datagrams crossing, the same
/// states at the same virtual times.
#[test]
fn seeded_peers_repeat_the_same_call_setup() {
    let run = || {
        let mut p = Pair::new();
        let (offer, answer) = p.negotiate(Who::A, false);
        let took = p.connect();
        let attrs = |sdp: &str| -> Vec<String> {
            sdp.lines()
                .filter(|l| {
                    l.starts_with("a=ice-ufrag:")
                        || l.starts_with("a=ice-pwd:")
                        || l.starts_with("a=ssrc:")
                })
                .map(str::to_owned)
                .collect()
        };
        let (a, b) = (attrs(&offer.sdp), attrs(&answer.sdp));
        (
            a,
            b,
            took,
            p.delivered,
            p.a.states.clone(),
            p.b.states.clone(),
        )
    };
    let first = run();
    assert!(
        first.0.iter().any(|l| l.starts_with("a=ice-pwd:")),
        "{:?}",
        first.0
    );
    assert_ne!(first.0, first.1, "the two sides draw from different seeds");
    assert_eq!(first, run());
}

fn profile(name: &str) -> PeerConfig {
    PeerConfig {
        media_profile: sipwire::sdp::plain::MediaProfile::parse(name).unwrap(),
        ..Default::default()
    }
}

fn plain_pair(offerer_cfg: PeerConfig) -> (Pair, Description, Description) {
    let mut p = Pair::with_configs(offerer_cfg, PeerConfig::default());
    p.subscribe();
    let (offer, answer) = p.negotiate(Who::A, false);
    // No handshake: both are connected as soon as the answer is applied.
    assert!(p.a.connected() && p.b.connected());
    (p, offer, answer)
}

fn stats_types(peer: &mut Peer, now: Instant) -> Vec<String> {
    peer.stats(now, 0.0)
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn plain_rtp_offer_answer_carries_audio_without_ice_or_dtls() {
    let (mut p, offer, answer) = plain_pair(profile("rtp"));
    assert!(
        offer.sdp.contains("m=audio 40000 RTP/AVP "),
        "{}",
        offer.sdp
    );
    assert!(!offer.sdp.contains("ice-ufrag") && !offer.sdp.contains("fingerprint"));
    assert!(
        answer.sdp.contains("m=audio 40002 RTP/AVP "),
        "{}",
        answer.sdp
    );
    p.assert_audio_both_ways(1000.0, 440.0);
    let now = p.now;
    let types = stats_types(&mut p.a.peer, now);
    for t in ["transport", "outbound-rtp", "inbound-rtp", "codec"] {
        assert!(types.iter().any(|x| x == t), "{t} missing from {types:?}");
    }
    for t in ["candidate-pair", "local-candidate", "certificate"] {
        assert!(!types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    // RFC 4733 on the plain stream.
    p.a.peer.media_mut().send_dtmf("1#", 100, 70).unwrap();
    p.run_for(Duration::from_millis(600));
    assert_eq!(p.b.peer.media().stats().dtmf_received, 2);
}

#[test]
fn sdes_negotiates_the_strongest_suite_and_carries_audio_and_dtmf() {
    let (mut p, offer, answer) = plain_pair(profile("sdes"));
    assert_eq!(offer.sdp.matches("a=crypto:").count(), 4, "{}", offer.sdp);
    assert!(offer.sdp.contains("m=audio 40000 RTP/SAVP "));
    assert_eq!(answer.sdp.matches("a=crypto:").count(), 1);
    assert!(
        answer.sdp.contains(" AEAD_AES_256_GCM inline:"),
        "{}",
        answer.sdp
    );
    p.assert_audio_both_ways(700.0, 1200.0);
    let now = p.now;
    let t = p.b.peer.stats(now, 0.0);
    let tr = t.iter().find(|v| v["type"] == "transport").unwrap();
    assert_eq!(tr["srtpCipher"], "AEAD_AES_256_GCM");
    assert!(tr.get("iceState").is_none() && tr.get("dtlsState").is_none());
    // RFC 4733 through SRTP.
    p.b.peer.media_mut().send_dtmf("5", 100, 70).unwrap();
    p.run_for(Duration::from_millis(400));
    assert!(p.a.peer.media().stats().dtmf_received >= 1);
}

#[test]
fn sdes_reinvite_with_new_keys_hold_and_resume() {
    let (mut p, _, _) = plain_pair(profile("sdes"));
    p.assert_audio_both_ways(1000.0, 440.0);
    // B (the answerer) re-offers: hold, then resume; media follows each time.
    p.b.peer.set_direction(Direction::SendOnly).unwrap();
    let (offer, answer) = p.negotiate(Who::B, false);
    assert!(offer.sdp.contains("a=sendonly") && answer.sdp.contains("a=recvonly"));
    assert_eq!(p.a.peer.media().direction(), Direction::RecvOnly);
    p.b.peer.set_direction(Direction::SendRecv).unwrap();
    p.negotiate(Who::B, false);
    p.assert_audio_both_ways(880.0, 660.0);
}

#[test]
fn sdes_with_wrong_keys_gives_no_audio_and_an_rtp_timeout() {
    let mut cfg = profile("sdes");
    cfg.rtp_timeout = Duration::from_millis(1000);
    let mut p = Pair::with_configs(cfg, PeerConfig::default());
    p.subscribe();
    let now = p.now;
    let offer = p.a.peer.create_offer(now, false).unwrap();
    p.a.peer
        .set_local_description(now, Some(offer.clone()))
        .unwrap();
    p.b.peer.set_remote_description(now, offer).unwrap();
    let answer = p.b.peer.create_answer(now).unwrap();
    p.b.peer
        .set_local_description(now, Some(answer.clone()))
        .unwrap();
    // Replace B's key in what A receives: same suite and tag, other bytes.
    let line = answer
        .sdp
        .lines()
        .find(|l| l.starts_with("a=crypto:"))
        .unwrap();
    let key = line.rsplit("inline:").next().unwrap();
    let forged = "A".repeat(key.trim_end_matches('=').len())
        + &"=".repeat(key.len() - key.trim_end_matches('=').len());
    let bad = Description {
        sdp_type: SdpType::Answer,
        sdp: answer.sdp.replace(key, &forged),
    };
    p.a.peer.set_remote_description(now, bad).unwrap();
    p.a.play_tone(1000.0);
    p.run_for(Duration::from_millis(1500));
    assert!(
        p.b.hears(200).is_some(),
        "B still hears A (A has B's real view of A's key)"
    );
    assert_eq!(p.a.peer.media().stats().packets_received, 0);
    assert_eq!(p.a.rtp_timeouts, 1, "A reports rtptimeout once");
    assert_eq!(p.b.rtp_timeouts, 0);
}

#[test]
fn unencrypted_offer_refused_by_policy_and_unknown_suites_refused() {
    let strict = PeerConfig {
        allow_unencrypted_media: false,
        ..Default::default()
    };
    let mut p = Pair::with_configs(profile("rtp"), strict.clone());
    let now = p.now;
    let offer = p.a.peer.create_offer(now, false).unwrap();
    let e =
        p.b.peer
            .set_remote_description(now, offer.clone())
            .unwrap_err();
    assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
    assert_eq!(
        sipwire::peer::validate_offer_for(&offer.sdp, &strict)
            .unwrap_err()
            .code(),
        "ERR_UNSUPPORTED_PROFILE"
    );
    assert!(sipwire::peer::validate_offer_for(&offer.sdp, &PeerConfig::default()).is_ok());
    let mut q = Pair::with_configs(profile("sdes"), PeerConfig::default());
    let offer = q.a.peer.create_offer(now, false).unwrap();
    let unknown: String = offer
        .sdp
        .lines()
        .map(|l| {
            if l.starts_with("a=crypto:") {
                "a=crypto:1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n";
    let e = sipwire::peer::validate_offer_for(&unknown, &PeerConfig::default()).unwrap_err();
    assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
    let e =
        q.b.peer
            .set_remote_description(
                now,
                Description {
                    sdp_type: SdpType::Offer,
                    sdp: unknown,
                },
            )
            .unwrap_err();
    assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
}

#[test]
fn garbage_on_the_plain_rtp_port_leaves_the_call_intact() {
    let (mut p, _, _) = plain_pair(profile("sdes"));
    p.assert_audio_both_ways(1000.0, 440.0);
    let stranger: SocketAddr = "127.0.0.1:45555".parse().unwrap();
    let now = p.now;
    for junk in [
        &b"hello"[..],
        &[0x80u8; 400],
        &[0x80, 201, 0, 1, 0, 0, 0, 1],
        &[0u8; 1500],
    ] {
        p.a.peer.handle_datagram(now, p.a.addr, stranger, junk);
        p.a.peer.handle_datagram(now, p.a.addr, p.b.addr, junk);
    }
    p.assert_audio_both_ways(700.0, 1200.0);
}

#[test]
fn plain_rtp_honours_ptime_40_on_send_and_reframes_on_receive() {
    let cfg = PeerConfig {
        codecs: vec![sipwire::audio::codec::CodecKind::Pcmu],
        ..profile("rtp")
    };
    let mut p = Pair::with_configs(cfg, PeerConfig::default());
    p.subscribe();
    let now = p.now;
    let offer = p.a.peer.create_offer(now, false).unwrap();
    p.a.peer
        .set_local_description(now, Some(offer.clone()))
        .unwrap();
    p.b.peer.set_remote_description(now, offer).unwrap();
    let answer = p.b.peer.create_answer(now).unwrap();
    p.b.peer
        .set_local_description(now, Some(answer.clone()))
        .unwrap();
    // B asks for 40 ms packets: A joins two 20 ms frames per packet.
    let asked = Description {
        sdp_type: SdpType::Answer,
        sdp: answer.sdp.replace("a=ptime:20", "a=ptime:40"),
    };
    p.a.peer.set_remote_description(now, asked).unwrap();
    p.assert_audio_both_ways(1000.0, 440.0);
    let (sent_frames, got) = (
        p.a.peer.media().stats().frames_encoded,
        p.b.peer.media().stats().packets_received,
    );
    assert!(
        got * 2 <= sent_frames + 2 && got * 2 + 4 >= sent_frames,
        "B got {got} packets for {sent_frames} frames: 40 ms each"
    );
    assert_eq!(
        p.b.peer.media().stats().packets_lost,
        0,
        "renumbered without gaps"
    );
}

#[test]
fn plain_hold_by_c_0_0_0_0_stops_sending_and_a_new_address_takes_over() {
    let (mut p, _, _) = plain_pair(profile("rtp"));
    p.assert_audio_both_ways(1000.0, 440.0);
    // B re-offers old-style hold (RFC 2543): c=0.0.0.0, no direction.
    let now = p.now;
    let offer = p.b.peer.create_offer(now, false).unwrap();
    p.b.peer
        .set_local_description(now, Some(offer.clone()))
        .unwrap();
    let held = Description {
        sdp_type: SdpType::Offer,
        sdp: offer
            .sdp
            .replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
            .replace("a=sendrecv\r\n", ""),
    };
    p.a.peer.set_remote_description(now, held).unwrap();
    let answer = p.a.peer.create_answer(now).unwrap();
    assert!(answer.sdp.contains("a=recvonly"), "{}", answer.sdp);
    p.a.peer
        .set_local_description(now, Some(answer.clone()))
        .unwrap();
    p.b.peer.set_remote_description(now, answer).unwrap();
    let before = p.b.peer.media().stats().packets_received;
    p.run_for(Duration::from_millis(400));
    assert_eq!(
        p.b.peer.media().stats().packets_received,
        before,
        "A sends nothing to 0.0.0.0"
    );
    // A re-INVITE from B with a real address again: media resumes.
    p.b.peer.set_direction(Direction::SendRecv).unwrap();
    p.negotiate(Who::B, false);
    p.assert_audio_both_ways(700.0, 1200.0);
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
