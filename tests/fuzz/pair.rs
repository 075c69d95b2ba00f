//! Two `Peer`s connected in memory (no sockets): datagrams are moved between
//! them by hand and time is virtual, so a whole ICE + DTLS-SRTP setup takes
//! a few milliseconds of CPU. Used to capture real STUN/DTLS/SRTP/SRTCP
//! datagrams as seeds and to feed mutated ones to a live peer.

use sipwire::audio::codec::CodecKind;
use sipwire::config::PeerConfig;
use sipwire::media::{Media, MediaEvent, RecvCodecs, SendCodec};
use sipwire::peer::Peer;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Pair {
    pub a: Peer,
    pub b: Peer,
    pub a_addr: SocketAddr,
    pub b_addr: SocketAddr,
    pub now: Instant,
    /// Every datagram A sent to B, in order (seeds).
    pub captured: Vec<Vec<u8>>,
    capture: bool,
    next_tick: Instant,
}

impl Pair {
    /// Offer from A, answer from B, then run until both are `connected`
    /// and some audio and RTCP have crossed.
    pub fn connect(capture: bool) -> Result<Pair, String> {
        let now = Instant::now();
        let a_addr: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        let b_addr: SocketAddr = "127.0.0.1:42000".parse().unwrap();
        let cfg = PeerConfig {
            codecs: vec![CodecKind::Pcmu, CodecKind::Opus],
            ..Default::default()
        };
        let mut a = Peer::new(cfg.clone(), vec![a_addr], now);
        let mut b = Peer::new(cfg, vec![b_addr], now);
        let e = |e: sipwire::error::Error| e.to_string();
        a.set_local_description(now, None).map_err(e)?;
        let offer = a.local_description().ok_or("no offer")?;
        b.set_remote_description(now, offer).map_err(e)?;
        b.set_local_description(now, None).map_err(e)?;
        let answer = b.local_description().ok_or("no answer")?;
        a.set_remote_description(now, answer).map_err(e)?;
        let mut p = Pair {
            a,
            b,
            a_addr,
            b_addr,
            now,
            captured: Vec::new(),
            capture,
            next_tick: now,
        };
        // Tones both ways so SRTP carries audio, and DTMF for telephone-event.
        let tone: Vec<i16> = (0..8000)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect();
        for peer in [&mut p.a, &mut p.b] {
            peer.media_mut().play(1, &tone, 8000, true).map_err(e)?;
        }
        let mut dtmf_sent = false;
        for _ in 0..20_000 {
            p.step(Duration::from_millis(5));
            let up = p.a.connection_state() == "connected" && p.b.connection_state() == "connected";
            if up && !dtmf_sent {
                p.a.media_mut().send_dtmf("1#", 100, 70).map_err(e)?;
                dtmf_sent = true;
            }
            // 1.5 s of media: the first RTCP reports go out after 1 s.
            if up && p.a.rtcp().reports_sent() > 0 && p.b.rtcp().reports_sent() > 0 {
                break;
            }
        }
        if p.b.connection_state() != "connected" || p.b.rtcp().reports_sent() == 0 {
            return Err(format!(
                "pair did not connect: a={} b={}",
                p.a.connection_state(),
                p.b.connection_state()
            ));
        }
        p.capture = false;
        Ok(p)
    }

    /// Advance virtual time by `dt`: timers, 20 ms media ticks, and every
    /// queued datagram delivered to the other side.
    pub fn step(&mut self, dt: Duration) {
        self.now += dt;
        let now = self.now;
        for peer in [&mut self.a, &mut self.b] {
            if peer.poll_timeout().is_some_and(|t| t <= now) {
                peer.handle_timeout(now);
            }
        }
        while self.next_tick <= now {
            self.a.media_tick(now);
            self.b.media_tick(now);
            self.next_tick += Duration::from_millis(20);
        }
        for _ in 0..64 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                if self.capture && self.captured.len() < 200 {
                    self.captured.push(t.data.to_vec());
                }
                if t.remote == self.b_addr {
                    self.b.handle_datagram(now, t.remote, t.local, &t.data);
                }
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                if t.remote == self.a_addr {
                    self.a.handle_datagram(now, t.remote, t.local, &t.data);
                }
            }
            if !moved {
                break;
            }
        }
        while self.a.poll_event().is_some() {}
        while self.b.poll_event().is_some() {}
    }
}

/// The live-peer fuzzing state: one connected pair whose B side is fed
/// mutated datagrams, plus, every fourth input, a peer that has a remote
/// description but whose ICE/DTLS has not started (handshake paths).
pub struct Fuzzing {
    pair: Option<Pair>,
    fresh: Option<Peer>,
    fresh_inputs: u64,
    inputs: u64,
    pub rebuilds: u64,
    pub closed_by_input: u64,
    pub connect_failures: u64,
}

impl Fuzzing {
    pub fn new() -> Self {
        let mut f = Fuzzing {
            pair: None,
            fresh: None,
            fresh_inputs: 0,
            inputs: 0,
            rebuilds: 0,
            closed_by_input: 0,
            connect_failures: 0,
        };
        f.rebuild();
        f
    }

    pub fn rebuild(&mut self) {
        self.rebuilds += 1;
        self.pair = match Pair::connect(false) {
            Ok(p) => Some(p),
            Err(e) => {
                self.connect_failures += 1;
                eprintln!("fuzz peer_datagram: rebuild failed: {e}");
                None
            }
        };
        self.fresh = None;
    }

    fn fresh_peer(&mut self, now: Instant) -> &mut Peer {
        if self.fresh.is_none() || self.fresh_inputs > 5000 {
            self.fresh_inputs = 0;
            let local: SocketAddr = "127.0.0.1:43000".parse().unwrap();
            let mut a = Peer::new(
                PeerConfig::default(),
                vec!["127.0.0.1:41000".parse().unwrap()],
                now,
            );
            let mut b = Peer::new(PeerConfig::default(), vec![local], now);
            a.set_local_description(now, None).unwrap();
            b.set_remote_description(now, a.local_description().unwrap())
                .unwrap();
            b.set_local_description(now, None).unwrap();
            self.fresh = Some(b);
        }
        self.fresh_inputs += 1;
        self.fresh.as_mut().unwrap()
    }

    pub fn feed(&mut self, data: &[u8]) -> u64 {
        self.inputs += 1;
        if self.pair.is_none() || self.inputs.is_multiple_of(50_000) {
            self.rebuild();
        }
        let Some(p) = self.pair.as_mut() else {
            return 0;
        };
        let now = p.now;
        let (b_addr, a_addr) = (p.b_addr, p.a_addr);
        let from = if self.inputs % 8 == 7 {
            "127.0.0.1:9".parse().unwrap()
        } else {
            a_addr
        };
        let target = if self.inputs % 4 == 3 {
            let peer = self.fresh_peer(now);
            peer.handle_datagram(now, "127.0.0.1:43000".parse().unwrap(), from, data);
            while peer.poll_transmit().is_some() {}
            while peer.poll_event().is_some() {}
            peer
        } else {
            let p = self.pair.as_mut().unwrap();
            p.b.handle_datagram(now, b_addr, from, data);
            // Answers (STUN responses, alerts) go back to A, as on the wire.
            while let Some(t) = p.b.poll_transmit() {
                if t.remote == a_addr {
                    p.a.handle_datagram(now, t.remote, t.local, &t.data);
                }
            }
            &mut p.b
        };
        let state = target.connection_state().len() as u64;
        // Keep time and media moving so timers, RTCP and consent run too.
        let p = self.pair.as_mut().unwrap();
        if self.inputs.is_multiple_of(64) {
            p.step(Duration::from_millis(20));
        }
        if p.b.is_closed()
            || p.b.connection_state() == "failed"
            || p.a.connection_state() == "failed"
        {
            self.closed_by_input += 1;
            self.rebuild();
        }
        state ^ ((data.first().copied().unwrap_or(0) as u64) << 8)
    }

    pub fn notes(&self) -> String {
        format!(
            "pair rebuilds={} failed-or-closed-after-input={} connect-failures={}",
            self.rebuilds, self.closed_by_input, self.connect_failures
        )
    }
}

/// RTP packets as our media pipeline sends them: PCMU and Opus audio and
/// RFC 4733 events, one-byte header extension (abs-send-time) on some.
pub fn rtp_seeds() -> Vec<Vec<u8>> {
    use rtc::shared::marshal::Marshal;
    let mut out = Vec::new();
    for (kind, pt, te) in [
        (CodecKind::Pcmu, 0u8, (101u8, 8000u32)),
        (CodecKind::Opus, 111, (110, 48000)),
    ] {
        let mut m = Media::new(0x1111_2222, 100, 1000);
        m.configure(
            Some(SendCodec {
                kind,
                pt,
                telephone_event: Some(te),
            }),
            RecvCodecs {
                audio: vec![(pt, kind)],
                telephone_event: vec![te],
            },
        )
        .unwrap();
        m.enable_one_way_delay();
        m.set_abs_send_time_id(Some(3));
        let tone: Vec<i16> = (0..16000)
            .map(|i| ((i as f32 * 0.2).sin() * 9000.0) as i16)
            .collect();
        m.play(1, &tone, 16000, false).unwrap();
        let mut ev: Vec<MediaEvent> = Vec::new();
        for i in 0..40 {
            if i == 5 {
                m.send_dtmf("5", 80, 50).unwrap();
            }
            if let Some(mut p) = m.tick(true, &mut ev) {
                if i % 3 == 0 {
                    m.stamp_send_time(&mut p, Duration::from_secs(1_700_000_000));
                }
                if let Ok(b) = p.marshal() {
                    out.push(b.to_vec());
                }
            }
        }
    }
    assert!(out.len() > 20, "rtp seeds: {}", out.len());
    out
}

/// Compound RTCP as our reporter sends it (SR + SDES, RR + SDES), plus
/// hand-made BYE, APP, NACK and PLI.
pub fn rtcp_seeds() -> Vec<Vec<u8>> {
    use sipwire::rtcp::{Reporter, SenderInfo};
    let mut out = Vec::new();
    let mut r = Reporter::new(0xabcd_ef01, 3);
    let ntp = sipwire::rtcp::ntp_from_unix(Duration::from_secs(1_700_000_000));
    let sender = SenderInfo {
        rtp_time: 160,
        packet_count: 10,
        octet_count: 1600,
    };
    let _ = r.poll(1, ntp, Some(sender), None);
    if let Some(p) = r.poll(10_000, ntp, Some(sender), None) {
        out.push(rtc::rtcp::packet::marshal(&p).unwrap().to_vec());
    }
    if let Some(p) = r.poll(20_000, ntp, None, None) {
        out.push(rtc::rtcp::packet::marshal(&p).unwrap().to_vec());
    }
    // RR with one report block about SSRC 0x12345678 (our fuzz reporter).
    out.push(vec![
        0x81, 0xc9, 0x00, 0x07, 0xab, 0xcd, 0xef, 0x01, 0x12, 0x34, 0x56, 0x78, 0x05, 0x00, 0x00,
        0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x20, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00,
        0x10, 0x00,
    ]);
    // BYE with reason, APP, generic NACK, PLI.
    out.push(vec![
        0x81, 0xcb, 0x00, 0x03, 0xab, 0xcd, 0xef, 0x01, 0x04, b'b', b'y', b'e', 0x00, 0x00, 0x00,
        0x00,
    ]);
    out.push(vec![
        0x80, 0xcc, 0x00, 0x03, 0xab, 0xcd, 0xef, 0x01, b'n', b'a', b'm', b'e', 1, 2, 3, 4,
    ]);
    out.push(vec![
        0x81, 0xcd, 0x00, 0x03, 0xab, 0xcd, 0xef, 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x10, 0x00,
        0x03,
    ]);
    out.push(vec![
        0x81, 0xce, 0x00, 0x02, 0xab, 0xcd, 0xef, 0x01, 0x12, 0x34, 0x56, 0x78,
    ]);
    out
}
