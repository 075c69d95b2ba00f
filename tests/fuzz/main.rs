//! Fuzz targets for every entry point that takes remote bytes: SDP parse and
//! normalise, `validate_offer` (and, when it accepts, a full answer on a
//! fresh `Peer`), the datagram entry of a live `Peer` (STUN, DTLS, SRTP,
//! SRTCP, garbage), received RTP through the media pipeline, RFC 4733
//! payloads, RTCP compound packets, WAV headers and video clips to send.
//!
//! `cargo test --test fuzz` runs a short slice of each (2 s per target: CI);
//! `npm run fuzz` (scripts/fuzz.sh) runs the full budget with `--release`
//! (reusing the addon's release-built dependencies). Budget and seed come
//! from the environment, see `engine::Budget::from_env`.
//! `SIPWIRE_FUZZ_REPLAY=<file or dir> cargo test --test fuzz <target>`
//! replays saved inputs instead.
//!
//! Any panic or hang fails the test; its input is saved under
//! `target/fuzz-crashes/`. Inputs that once crashed are kept as seeds in
//! `tests/fuzz/corpus/<target>/` so every run replays them first.

mod engine;
mod pair;
mod video;

use engine::{Budget, Target};
use sipwire::audio::codec::CodecKind;
use sipwire::media::{Media, RecvCodecs, SendCodec};
use sipwire::peer::{validate_offer, Description, Peer, SdpType};
use sipwire::sdp::{self, Direction, LocalRewrite, SdpKind};
use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn corpus_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(sub)
}

/// Every file of the given corpus directories, sorted by name.
fn read_seeds(dirs: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(corpus_dir(d)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if f.is_file() {
                out.push(std::fs::read(f).unwrap());
            }
        }
    }
    out
}

fn sig(parts: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

fn sdp_seeds() -> Vec<Vec<u8>> {
    let seeds = read_seeds(&[
        "tests/fixtures/sdp",
        "tests/fuzz/corpus/sdp",
        "tests/fuzz/corpus/sdp_regressions",
    ]);
    assert!(seeds.len() >= 14, "SDP seed corpus missing");
    seeds
}

/// Lines and tokens the SDP mutator inserts or swaps in (entries ending in
/// a newline are whole lines).
fn sdp_dict() -> Vec<Vec<u8>> {
    [
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 101\r\n",
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        "m=audio 0 RTP/AVP 0\r\n",
        "m=audio 5004 RTP/SAVP 0\r\n",
        "c=IN IP6 ::1\r\n",
        "c=IN IP4 0.0.0.0\r\n",
        "c=IN IP4 224.2.1.1/127/3\r\n",
        "a=rtpmap:111 opus/48000/2\r\n",
        "a=rtpmap:0 PCMU/8000\r\n",
        "a=rtpmap:8 PCMA/8000\r\n",
        "a=rtpmap:101 telephone-event/8000\r\n",
        "a=rtpmap:110 telephone-event/48000\r\n",
        "a=rtpmap:96 opus/48000\r\n",
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n",
        "a=fmtp:101 0-15\r\n",
        "a=rtcp-fb:111 transport-cc\r\n",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n",
        "a=candidate:2 1 udp 1694498815 ::1 5000 typ srflx raddr 0.0.0.0 rport 0\r\n",
        "a=candidate:3 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active\r\n",
        "a=candidate:4 1 udp 2113937151 abc.local 5000 typ host\r\n",
        "a=candidate:5 1 udp 16777215 198.51.100.1 3478 typ relay raddr 192.0.2.1 rport 50000\r\n",
        "a=end-of-candidates\r\n",
        "a=ice-ufrag:abcd\r\n",
        "a=ice-pwd:0123456789abcdef012345\r\n",
        "a=ice-lite\r\n",
        "a=ice-options:trickle renomination\r\n",
        "a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n",
        "a=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD\r\n",
        "a=fingerprint:sha-512 AA:BB\r\n",
        "a=setup:actpass\r\n",
        "a=setup:passive\r\n",
        "a=setup:active\r\n",
        "a=setup:holdconn\r\n",
        "a=mid:0\r\n",
        "a=mid:audio\r\n",
        "a=group:BUNDLE 0 1\r\n",
        "a=group:LS 0\r\n",
        "a=sendonly\r\n",
        "a=recvonly\r\n",
        "a=inactive\r\n",
        "a=rtcp-mux\r\n",
        "a=rtcp-rsize\r\n",
        "a=rtcp:9 IN IP4 0.0.0.0\r\n",
        "a=extmap:0 urn:x\r\n",
        "a=extmap:\r\n",
        "a=extmap:15 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n",
        "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n",
        "a=extmap:256/sendrecv urn:ietf:params:rtp-hdrext:sdes:mid\r\n",
        "a=ssrc:1 cname:x\r\n",
        "a=ssrc-group:FID 1 2\r\n",
        "a=msid:- -\r\n",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
        "a=ptime:20\r\n",
        "a=maxptime:0\r\n",
        "a=sctp-port:5000\r\n",
        "a=\r\n",
        "a=:\r\n",
        "b=AS:64\r\n",
        "b=TIAS:99999999999999999999\r\n",
        "u=http://[::1\r\n",
        "k=clear:x\r\n",
        "t=0 0\r\n",
        "s=-\r\n",
        "o=- 0 0 IN IP4 127.0.0.1\r\n",
        "v=0\r\n",
        "z=0 0\r\n",
        "x\r\n",
        "UDP/TLS/RTP/SAVPF",
        "RTP/SAVPF",
        "RTP/AVP",
        "DTLS/SCTP",
        "telephone-event",
        "opus",
        "PCMU",
        "sha-256",
        "SHA-256",
        "typ",
        "host",
        "srflx",
        "raddr",
        ".local",
        "IN IP6 ",
        "\u{1F600}",
        "\0",
        " ",
        "\t",
        "\r\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn sdp_normalize() -> Target {
    let counts = Rc::new(RefCell::new((0u64, 0u64)));
    let c2 = counts.clone();
    Target {
        name: "sdp_normalize",
        seeds: sdp_seeds(),
        max_len: 64 * 1024,
        text: true,
        dict: sdp_dict(),
        run: Box::new(move |data| {
            let text = String::from_utf8_lossy(data);
            let parsed =
                sdp::parse::Sdp::parse(&text).map(|s| (s.media.len(), s.to_sdp_string().len()));
            let mut out = vec![parsed.as_ref().map(|p| p.0).map_err(|e| e.code())];
            for kind in [SdpKind::Offer, SdpKind::Answer] {
                match sdp::normalize_remote(&text, kind) {
                    Ok(info) => {
                        counts.borrow_mut().0 += 1;
                        // What we build from an accepted offer must not panic either.
                        let rw = LocalRewrite {
                            candidates: vec![
                                "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host".into(),
                            ],
                            end_of_candidates: true,
                            default_addr: Some("127.0.0.1:40000".parse().unwrap()),
                            direction: Some(Direction::SendRecv),
                            setup: Some(sdp::answer_setup(info.setup)),
                            rejected_sections: info.rejected_sections.clone(),
                            strip_bundle: !info.had_bundle,
                            dedupe_telephone_event: true,
                        };
                        let _ = sdp::rewrite_local(&info.sdp, &rw);
                        let _ = sdp::extmap_id(&info.sdp, "urn:ietf:params:rtp-hdrext:sdes:mid");
                        out.push(Ok(
                            info.codecs.len() * 16 + info.rejected_sections.len().min(15)
                        ));
                    }
                    Err(e) => {
                        counts.borrow_mut().1 += 1;
                        out.push(Err(e.code()));
                    }
                }
            }
            sig(out)
        }),
        reset: Box::new(|| {}),
        notes: Box::new(move || {
            let c = c2.borrow();
            format!("accepted={} rejected={}", c.0, c.1)
        }),
    }
}

/// How `validate_offer` and a fresh `Peer` (setRemoteDescription,
/// createAnswer, setLocalDescription) judged the inputs.
#[derive(Default)]
struct OfferStats {
    valid: u64,
    invalid: u64,
    answered: u64,
    /// validate_offer accepted but the peer rejected, by error code: the
    /// mismatch that made SIP answer 480 instead of 488 (issue #15 item 7).
    disagree: std::collections::BTreeMap<&'static str, u64>,
}

fn validate_offer_target() -> Target {
    let stats = Rc::new(RefCell::new(OfferStats::default()));
    let s2 = stats.clone();
    let codecs = vec![CodecKind::Opus, CodecKind::Pcmu, CodecKind::Pcma];
    let t0 = Instant::now();
    let local: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    Target {
        name: "validate_offer",
        seeds: sdp_seeds(),
        max_len: 64 * 1024,
        text: true,
        dict: sdp_dict(),
        run: Box::new(move |data| {
            let text = String::from_utf8_lossy(data).into_owned();
            let mut st = stats.borrow_mut();
            match validate_offer(&text, &codecs) {
                Err(e) => {
                    st.invalid += 1;
                    sig(("invalid", e.code()))
                }
                Ok(info) => {
                    st.valid += 1;
                    let mut peer = Peer::new(Default::default(), vec![local], t0);
                    let r = peer
                        .set_remote_description(
                            t0,
                            Description {
                                sdp_type: SdpType::Offer,
                                sdp: text,
                            },
                        )
                        .and_then(|_| peer.create_answer(t0))
                        .and_then(|a| peer.set_local_description(t0, Some(a)));
                    let _ = peer.local_description();
                    while peer.poll_event().is_some() {}
                    peer.close();
                    match r {
                        Ok(()) => {
                            st.answered += 1;
                            sig((
                                "answered",
                                info.codecs.len(),
                                info.rejected_sections.len().min(8),
                            ))
                        }
                        Err(e) => {
                            *st.disagree.entry(e.code()).or_default() += 1;
                            sig(("disagree", e.code()))
                        }
                    }
                }
            }
        }),
        reset: Box::new(|| {}),
        notes: Box::new(move || {
            let s = s2.borrow();
            format!(
                "valid={} invalid={} answered={} validate-ok-but-peer-rejected={:?}",
                s.valid, s.invalid, s.answered, s.disagree
            )
        }),
    }
}

fn peer_datagram() -> Target {
    let seeds = {
        let mut p = pair::Pair::connect(true).expect("in-memory pair connects");
        let mut s = std::mem::take(&mut p.captured);
        s.extend(read_seeds(&["tests/fuzz/corpus/peer_datagram"]));
        s
    };
    assert!(seeds.len() >= 8, "captured only {} datagrams", seeds.len());
    let state = Rc::new(RefCell::new(pair::Fuzzing::new()));
    let (s2, s3) = (state.clone(), state.clone());
    Target {
        name: "peer_datagram",
        seeds,
        max_len: 1500,
        text: false,
        dict: vec![
            // STUN magic cookie, attribute types (USERNAME, MESSAGE-INTEGRITY,
            // FINGERPRINT, XOR-MAPPED-ADDRESS, PRIORITY, USE-CANDIDATE, ICE-CONTROLLING).
            vec![0x21, 0x12, 0xa4, 0x42],
            vec![0x00, 0x06],
            vec![0x00, 0x08, 0x00, 0x14],
            vec![0x80, 0x28, 0x00, 0x04],
            vec![0x00, 0x20],
            vec![0x00, 0x24, 0x00, 0x04],
            vec![0x00, 0x25, 0x00, 0x00],
            vec![0x80, 0x2a, 0x00, 0x08],
            // DTLS record headers: handshake, alert, CCS, app data, DTLS 1.2/1.0.
            vec![0x16, 0xfe, 0xfd],
            vec![0x15, 0xfe, 0xfd, 0x00, 0x00],
            vec![0x14, 0xfe, 0xff],
            vec![0x17, 0xfe, 0xfd],
            // RTP/RTCP first bytes: version 2, SR/RR/SDES/BYE/APP/RTPFB/PSFB.
            vec![0x80, 0x00],
            vec![0x80, 0xc8],
            vec![0x81, 0xc9],
            vec![0x81, 0xca],
            vec![0x81, 0xcb],
            vec![0x80, 0xcc],
            vec![0x8f, 0xcd],
            vec![0x81, 0xce],
            vec![0x90, 0x6f],
            vec![0xbe, 0xde],
        ],
        run: Box::new(move |data| state.borrow_mut().feed(data)),
        reset: Box::new(move || s2.borrow_mut().rebuild()),
        notes: Box::new(move || s3.borrow().notes()),
    }
}

/// Received RTP (after SRTP) through the media pipeline: header parse,
/// jitter buffer, PCMU/PCMA/Opus decode, RFC 4733 events, stats.
fn rtp_media() -> Target {
    let mut seeds = pair::rtp_seeds();
    seeds.extend(read_seeds(&["tests/fuzz/corpus/rtp_media"]));
    let make = || {
        let mut m = Media::new(7, 1, 1);
        m.configure(
            Some(SendCodec {
                kind: CodecKind::Pcmu,
                pt: 0,
                telephone_event: Some((101, 8000)),
            }),
            RecvCodecs {
                audio: vec![
                    (0, CodecKind::Pcmu),
                    (8, CodecKind::Pcma),
                    (111, CodecKind::Opus),
                ],
                telephone_event: vec![(101, 8000), (110, 48000)],
            },
        )
        .unwrap();
        m.enable_one_way_delay();
        m.set_abs_send_time_id(Some(3));
        m.subscribe_audio(16000, 20).unwrap();
        m
    };
    let media = Rc::new(RefCell::new(make()));
    let m2 = media.clone();
    let mut n = 0u64;
    let mut ev = Vec::new();
    Target {
        name: "rtp_media",
        seeds,
        max_len: 1500,
        text: false,
        dict: vec![
            vec![0x80, 0x00],
            vec![0x80, 0x65],
            vec![0x90, 0x6f],
            vec![0xbe, 0xde],
            vec![0x80, 0xef],
        ],
        run: Box::new(move |data| {
            use rtc::shared::marshal::Unmarshal;
            n += 1;
            let mut m = media.borrow_mut();
            let mut buf = data;
            let Ok(pkt) = rtc::rtp::packet::Packet::unmarshal(&mut buf) else {
                return sig("unparsable");
            };
            let arrival = Duration::from_millis(20 * n);
            m.record_send_time(&pkt, arrival);
            m.on_rtp(&pkt, arrival, &mut ev);
            // Keep the pipeline moving: playout, timeouts, DTMF, stats.
            if n.is_multiple_of(4) {
                let _ = m.tick(true, &mut ev);
                let _ = m.reception();
                let _ = m.sender_info();
            }
            let kinds = ev.len().min(4);
            ev.clear();
            if n.is_multiple_of(100_000) {
                *m = make();
            }
            sig((pkt.header.payload_type, pkt.payload.len().min(8), kinds))
        }),
        reset: Box::new(move || *m2.borrow_mut() = make()),
        notes: Box::new(String::new),
    }
}

/// RFC 4733: each 8 input bytes are an RTP timestamp (4) and a payload (4),
/// fed to one receiver in order; plus the payload parser on the whole input.
fn dtmf() -> Target {
    let seeds = vec![
        // event 1 start, update, end x3; then event 2 with a new timestamp
        [
            &[0, 0, 0, 160][..],
            &[1, 10, 0, 160],
            &[0, 0, 0, 160],
            &[1, 10, 1, 64],
            &[0, 0, 0, 160],
            &[1, 0x8a, 3, 32],
            &[0, 0, 0, 160],
            &[1, 0x8a, 3, 32],
            &[0, 0, 6, 64],
            &[2, 10, 0, 160],
        ]
        .concat(),
        // a long event split into segments (duration overflow)
        [
            &[0xff, 0xff, 0xff, 0x00][..],
            &[11, 0, 0xff, 0xff],
            &[0, 0, 0xfe, 0xff],
            &[11, 0, 0, 160],
        ]
        .concat(),
        // redundancy-style trailing bytes, event 16 (flash), 255
        vec![
            0, 0, 1, 0, 16, 0x3f, 0, 80, 9, 9, 0, 0, 2, 0, 255, 0x80, 0, 0,
        ],
    ];
    let mut rx = sipwire::dtmf::DtmfReceiver::new();
    Target {
        name: "dtmf",
        seeds,
        max_len: 256,
        text: false,
        dict: vec![vec![0x80], vec![0xff, 0xff], vec![0, 0, 0, 0]],
        run: Box::new(move |data| {
            let parsed = sipwire::dtmf::DtmfPayload::parse(data).ok();
            if let Some(p) = parsed {
                assert_eq!(
                    sipwire::dtmf::DtmfPayload::parse(&p.to_bytes()).ok(),
                    Some(p),
                    "payload round trip"
                );
            }
            rx.reset();
            let mut digits = 0u8;
            for rec in data.chunks(8) {
                let ts = u32::from_be_bytes([
                    rec[0],
                    *rec.get(1).unwrap_or(&0),
                    *rec.get(2).unwrap_or(&0),
                    *rec.get(3).unwrap_or(&0),
                ]);
                if rx.on_packet(ts, rec.get(4..).unwrap_or(&[])).is_some() {
                    digits = digits.saturating_add(1);
                }
            }
            sig((parsed.map(|p| p.event), digits.min(8)))
        }),
        reset: Box::new(|| {}),
        notes: Box::new(String::new),
    }
}

/// RTCP compound packets: rtc's parser, then our reporter (RTT, loss) and a
/// marshal round trip.
fn rtcp() -> Target {
    let mut seeds = pair::rtcp_seeds();
    seeds.extend(read_seeds(&["tests/fuzz/corpus/rtcp"]));
    let mut rep = sipwire::rtcp::Reporter::new(0x1234_5678, 9);
    let mut n = 0u64;
    Target {
        name: "rtcp",
        seeds,
        max_len: 1500,
        text: false,
        dict: vec![
            vec![0x80, 0xc8],
            vec![0x81, 0xc9],
            vec![0x81, 0xca],
            vec![0x81, 0xcb],
            vec![0x80, 0xcc],
            vec![0x81, 0xcd],
            vec![0x81, 0xce],
            vec![0x80, 0xcf],
            vec![0x12, 0x34, 0x56, 0x78],
        ],
        run: Box::new(move |data| {
            n += 1;
            let mut buf = data;
            let Ok(pkts) = rtc::rtcp::packet::unmarshal(&mut buf) else {
                return sig("unparsable");
            };
            let ntp = sipwire::rtcp::ntp_from_unix(Duration::from_secs(1_700_000_000 + n));
            rep.on_rtcp(&pkts, ntp);
            let _ = rep.poll(
                n * 1000,
                ntp,
                Some(sipwire::rtcp::SenderInfo {
                    rtp_time: n as u32,
                    packet_count: n as u32,
                    octet_count: n as u32,
                }),
                None,
            );
            let re = rtc::rtcp::packet::marshal(&pkts).map(|b| b.len());
            let _ = format!("{:?}", rep.remote_inbound());
            sig((pkts.len().min(8), re.is_ok()))
        }),
        reset: Box::new(|| {}),
        notes: Box::new(String::new),
    }
}

/// WAV files as `play_wav`/`read_wav` read them, then the rate conversion
/// `play_wav` applies.
fn wav() -> Target {
    let mut seeds = vec![
        sipwire::wav::encode_wav(&[0, 100, -100, 32767, -32768, 5, 6, 7], 8000),
        sipwire::wav::encode_wav(&[1; 64], 44100),
        sipwire::wav::encode_wav(&[], 48000),
    ];
    // A mu-law (format 7) and an A-law (format 6) header, and an
    // extensible-format float header, written by hand.
    for (fmt, bits, extra) in [
        (7u16, 8u16, &[][..]),
        (6, 8, &[][..]),
        (
            0xfffe,
            32,
            &[
                22u8, 0, 32, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38,
                0x9b, 0x71,
            ][..],
        ),
    ] {
        let data = [0x7fu8, 0xff, 0x00, 0x80, 0x55, 0xd5, 0x01, 0x02];
        let fmt_len = 16 + extra.len() as u32;
        let mut w = b"RIFF".to_vec();
        w.extend_from_slice(&(4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&fmt_len.to_le_bytes());
        w.extend_from_slice(&fmt.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&8000u32.to_le_bytes());
        w.extend_from_slice(&(8000 * bits as u32 / 8).to_le_bytes());
        w.extend_from_slice(&(bits / 8).to_le_bytes());
        w.extend_from_slice(&bits.to_le_bytes());
        w.extend_from_slice(extra);
        w.extend_from_slice(b"LIST\x04\x00\x00\x00INFOdata");
        w.extend_from_slice(&(data.len() as u32).to_le_bytes());
        w.extend_from_slice(&data);
        seeds.push(w);
    }
    seeds.extend(read_seeds(&["tests/fuzz/corpus/wav"]));
    Target {
        name: "wav",
        seeds,
        max_len: 4096,
        text: false,
        dict: vec![
            b"RIFF".to_vec(),
            b"WAVE".to_vec(),
            b"fmt ".to_vec(),
            b"data".to_vec(),
            b"LIST".to_vec(),
            b"fact".to_vec(),
            vec![0xff, 0xff, 0xff, 0xff],
            vec![0xfe, 0xff],
            vec![0x44, 0xac, 0, 0],
            vec![0x80, 0xbb, 0, 0],
        ],
        run: Box::new(|data| match sipwire::wav::read_wav(data) {
            Ok(w) => {
                let n = w.samples.len();
                let conv = sipwire::media::to_supported_rate(w.samples, w.sample_rate);
                sig((n.min(16), conv.map(|c| c.1).ok()))
            }
            Err(e) => sig(e.to_string().split(':').next().unwrap_or("").to_string()),
        }),
        reset: Box::new(|| {}),
        notes: Box::new(String::new),
    }
}

fn go(make: fn() -> Target) {
    let t = make();
    if let Some(p) = std::env::var_os("SIPWIRE_FUZZ_REPLAY") {
        assert!(engine::replay(t, std::path::Path::new(&p)) > 0);
        return;
    }
    let b = Budget::from_env(t.name);
    let r = engine::run(t, &b);
    assert!(r.inputs > 0, "no input ran");
    assert!(
        r.panics == 0 && r.hangs == 0,
        "{}: {} panics ({:?}), {} hangs; inputs saved: {:?}",
        r.name,
        r.panics,
        r.unique_panics,
        r.hangs,
        r.saved
    );
}

#[test]
fn fuzz_sdp_normalize() {
    go(sdp_normalize)
}

#[test]
fn fuzz_validate_offer() {
    go(validate_offer_target)
}

#[test]
fn fuzz_peer_datagram() {
    go(peer_datagram)
}

#[test]
fn fuzz_rtp_media() {
    go(rtp_media)
}

#[test]
fn fuzz_dtmf() {
    go(dtmf)
}

#[test]
fn fuzz_rtcp() {
    go(rtcp)
}

#[test]
fn fuzz_wav() {
    go(wav)
}

#[test]
fn fuzz_video_clip() {
    go(video::video_clip)
}
