//! Plain-profile video: the SDP each side writes, the sockets it asks the
//! shard for, and two peers (no sockets, no clock) sending a clip to each
//! other over RTP/AVP and SDES with per-section keys.

use crate::config::PeerConfig;
use crate::peer::{Description, Peer, SdpType};
use crate::sdp::plain::MediaProfile;
use crate::video::clip::{Clip, ClipFrame};
use crate::video::sender::PlayDone;
use crate::video::{VideoCodec, VideoConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg(profile: MediaProfile, video: Option<&str>) -> PeerConfig {
    PeerConfig {
        media_profile: profile,
        video: video.map(|d| VideoConfig::from_input(&[], Some(d)).unwrap()),
        ..Default::default()
    }
}

fn section<'a>(sdp: &'a str, media: &str) -> &'a str {
    let start = sdp.find(&format!("m={media} ")).unwrap();
    let rest = &sdp[start..];
    let end = rest[2..].find("\r\nm=").map_or(rest.len(), |e| e + 4);
    &rest[..end]
}

fn desc(t: SdpType, sdp: &str) -> Description {
    Description {
        sdp_type: t,
        sdp: sdp.into(),
    }
}

/// baresip with `video_codecs vp8` and plain RTP: no rtcp-fb, no RTX.
const AVP_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 10000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-15\r\na=sendrecv\r\n\
    m=video 10002 RTP/AVP 100\r\na=rtpmap:100 VP8/90000\r\na=fmtp:100 max-fs=3600\r\na=sendrecv\r\n";

fn answer_to(offer: &str, c: PeerConfig, sockets: bool) -> (Peer, String) {
    let now = Instant::now();
    let mut p = Peer::new(c, vec![addr("127.0.0.1:40000")], now);
    p.set_remote_description(now, desc(SdpType::Offer, offer))
        .unwrap();
    if sockets {
        assert_eq!(p.wants_video_sockets(), Some(true), "RTCP at port + 1 too");
        p.set_video_sockets(vec![addr("127.0.0.1:40002")], vec![addr("127.0.0.1:40003")]);
        assert_eq!(p.wants_video_sockets(), None, "asked once");
    }
    let answer = p.create_answer(now).unwrap();
    p.set_local_description(now, Some(answer.clone())).unwrap();
    (p, answer.sdp)
}

#[test]
fn an_avp_video_section_is_answered_on_its_own_port_with_no_feedback_it_was_not_offered() {
    let (mut p, sdp) = answer_to(AVP_OFFER, cfg(MediaProfile::WebRtc, Some("sendrecv")), true);
    let v = section(&sdp, "video");
    assert!(
        v.starts_with("m=video 40002 RTP/AVP 100\r\n"),
        "own port, the offer's payload type: {sdp}"
    );
    assert!(
        v.contains("a=rtpmap:100 VP8/90000\r\na=fmtp:100 max-fs=3600\r\n"),
        "{v}"
    );
    assert!(
        v.contains("a=rtcp:40003\r\n") && v.contains("a=sendrecv"),
        "{v}"
    );
    assert!(
        !v.contains("rtcp-fb") && !v.contains("rtx") && !v.contains("rtcp-mux"),
        "{v}"
    );
    assert!(!sdp.contains("BUNDLE"), "{sdp}");
    assert!(section(&sdp, "audio").starts_with("m=audio 40000 RTP/AVP 0 101"));
    let r = p.video().expect("a video receiver");
    assert!(r.owns(100) && !r.owns(0));
    assert!(!r.payloads()[0].pli && !r.payloads()[0].nack);
    assert!(p.video_send.is_some(), "sendrecv: a sender");
    assert!(
        p.unneeded_video_sockets().is_empty(),
        "video flows: sockets stay"
    );
    // Video latches on its own socket: a packet from the far end's video
    // port reaches the receiver; RTP on the audio socket with a video
    // payload type does not.
    let now = Instant::now();
    let pkt = [
        0x80u8, 100, 0, 1, 0, 0, 0x0b, 0xb8, 0, 0, 0, 7, 0x10, 0, 0, 0, 0x9d, 0x01, 0x2a, 0x40,
        0x01, 0xf0, 0x00,
    ];
    p.handle_datagram(now, addr("127.0.0.1:40000"), addr("127.0.0.1:10000"), &pkt);
    assert_eq!(p.video().unwrap().stats().packets_received, 0);
    p.handle_datagram(now, addr("127.0.0.1:40002"), addr("127.0.0.1:10002"), &pkt);
    assert_eq!(p.video().unwrap().stats().packets_received, 1);
    let pv = p.plain_video.as_ref().unwrap();
    assert_eq!(
        pv.transport.as_ref().unwrap().rtp.latched(),
        Some(addr("127.0.0.1:10002"))
    );
    // A re-offer without video drops it and frees its sockets.
    let reoffer = AVP_OFFER
        .replace("m=video 10002", "m=video 0")
        .replace(" 1 1 IN", " 1 2 IN");
    p.set_remote_description(now, desc(SdpType::Offer, &reoffer))
        .unwrap();
    let answer = p.create_answer(now).unwrap();
    assert!(
        section(&answer.sdp, "video").starts_with("m=video 0 "),
        "{}",
        answer.sdp
    );
    p.set_local_description(now, Some(answer)).unwrap();
    assert!(p.video().is_none() && p.video_send.is_none());
    let mut freed = p.unneeded_video_sockets();
    freed.sort();
    assert_eq!(freed, [addr("127.0.0.1:40002"), addr("127.0.0.1:40003")]);
}

#[test]
fn without_video_configured_the_section_stays_rejected_and_no_socket_is_asked_for() {
    let (p, sdp) = answer_to(AVP_OFFER, cfg(MediaProfile::WebRtc, None), false);
    assert!(
        section(&sdp, "video").starts_with("m=video 0 RTP/AVP 100"),
        "{sdp}"
    );
    assert_eq!(p.wants_video_sockets(), None);
    assert!(p.video().is_none());
    // An audio-only plain connection asks for no video socket either.
    let q = Peer::new(
        cfg(MediaProfile::Rtp, None),
        vec![addr("127.0.0.1:40000")],
        Instant::now(),
    );
    assert_eq!(q.wants_video_sockets(), None);
    // No codec in common (H.264 only): rejected as well.
    let h264 = PeerConfig {
        video: Some(VideoConfig::from_input(&["h264".into()], None).unwrap()),
        ..Default::default()
    };
    let (p, sdp) = answer_to(AVP_OFFER, h264, false);
    assert_eq!(p.wants_video_sockets(), None);
    assert!(section(&sdp, "video").starts_with("m=video 0 "), "{sdp}");
}

/// A 320x240 VP8 clip of `frames` frames at 30 fps, a key frame every 10.
fn clip(frames: usize) -> Arc<Clip> {
    let frames = (0..frames)
        .map(|i| {
            let key = i % 10 == 0;
            let mut data = if key {
                vec![0x50, 0x42, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]
            } else {
                vec![0x51, 0, 0]
            };
            data.resize(if key { 2500 } else { 300 }, i as u8);
            ClipFrame {
                ts: i as u64 * 3000,
                key,
                units: vec![data],
            }
        })
        .collect();
    Arc::new(Clip {
        codec: VideoCodec::Vp8,
        frames,
        width: 320,
        height: 240,
        last_duration: 3000,
    })
}

fn crypto_keys(section: &str) -> Vec<String> {
    section
        .lines()
        .filter_map(|l| l.strip_prefix("a=crypto:"))
        .map(|l| l.split("inline:").nth(1).unwrap().to_string())
        .collect()
}

/// `a` offers `profile` with video (sending), `b` answers (recording); the
/// datagrams go between them by address for `ms`.
fn two_peers(profile: MediaProfile) {
    let mut now = Instant::now();
    let (a_rtp, a_vid, a_vrtcp) = (
        addr("127.0.0.1:41000"),
        addr("127.0.0.1:41002"),
        addr("127.0.0.1:41003"),
    );
    let (b_rtp, b_vid) = (addr("127.0.0.1:42000"), addr("127.0.0.1:42002"));
    let mut a = Peer::new(cfg(profile, Some("sendonly")), vec![a_rtp], now);
    assert_eq!(
        a.wants_video_sockets(),
        Some(true),
        "bound before the offer"
    );
    a.set_video_sockets(vec![a_vid], vec![a_vrtcp]);
    let offer = a.create_offer(now, false).unwrap();
    a.set_local_description(now, Some(offer.clone())).unwrap();
    let ov = section(&offer.sdp, "video");
    assert!(
        ov.starts_with(&format!(
            "m=video 41002 {} 96 97 102 103\r\n",
            profile.proto()
        )),
        "{}",
        offer.sdp
    );
    assert!(
        ov.contains("a=rtcp:41003\r\na=rtcp-mux\r\n") && ov.contains("a=sendonly"),
        "{ov}"
    );
    assert!(
        ov.contains("a=rtcp-fb:96 nack pli") && ov.contains("a=fmtp:97 apt=96"),
        "{ov}"
    );
    let mut b = Peer::new(
        cfg(MediaProfile::WebRtc, Some("recvonly")),
        vec![b_rtp],
        now,
    );
    b.set_remote_description(now, offer.clone()).unwrap();
    assert_eq!(
        b.wants_video_sockets(),
        Some(false),
        "rtcp-mux offered: no RTCP socket"
    );
    b.set_video_sockets(vec![b_vid], vec![]);
    let answer = b.create_answer(now).unwrap();
    b.set_local_description(now, Some(answer.clone())).unwrap();
    let av = section(&answer.sdp, "video");
    assert!(
        av.starts_with(&format!(
            "m=video 42002 {} 96 97 102 103\r\n",
            profile.proto()
        )),
        "{}",
        answer.sdp
    );
    assert!(
        av.contains("a=rtcp-mux") && av.contains("a=recvonly"),
        "{av}"
    );
    if profile == MediaProfile::Sdes {
        // Keys per m-line: four suites offered in each section, with keys
        // of their own; one chosen per section in the answer, each its own.
        let (oa, ov) = (crypto_keys(section(&offer.sdp, "audio")), crypto_keys(ov));
        assert_eq!((oa.len(), ov.len()), (4, 4));
        assert!(
            oa.iter().all(|k| !ov.contains(k)),
            "video keys are not the audio's"
        );
        let (aa, avk) = (crypto_keys(section(&answer.sdp, "audio")), crypto_keys(av));
        assert_eq!((aa.len(), avk.len()), (1, 1));
        assert_ne!(aa, avk);
    } else {
        assert!(!answer.sdp.contains("a=crypto"));
    }
    a.set_remote_description(now, answer).unwrap();
    assert_eq!(
        a.unneeded_video_sockets(),
        [a_vrtcp],
        "rtcp-mux taken: RTCP socket freed"
    );
    assert!(a.video_send.is_some() && a.video().is_none());
    assert!(b.video().is_some() && b.video_send.is_none());
    // Recording asks for a key frame (PLI) once the stream comes.
    let rec = std::env::temp_dir().join(format!(
        "sipwire-plain-video-{}-{}.ivf",
        profile.as_str(),
        std::process::id()
    ));
    b.start_video_recording(now, rec.to_string_lossy().into(), Box::new(|_| {}));
    a.play_video(now, clip(60), false, PlayDone::none(), 1);
    let (mut video_datagrams, mut stray) = (0, 0);
    for _ in 0..150 {
        now += Duration::from_millis(20);
        a.media_tick(now);
        b.media_tick(now);
        for dir in 0..2 {
            let (from, to, to_socks) = if dir == 0 {
                (&mut a, &mut b, [b_rtp, b_vid])
            } else {
                (&mut b, &mut a, [a_rtp, a_vid])
            };
            while let Some(t) = from.poll_transmit() {
                if t.local == a_vid || t.local == b_vid {
                    video_datagrams += 1;
                    if t.remote != a_vid && t.remote != b_vid {
                        stray += 1;
                    }
                }
                if to_socks.contains(&t.remote) {
                    to.handle_datagram(now, t.remote, t.local, &t.data);
                }
            }
        }
    }
    assert_eq!(stray, 0, "video goes from video socket to video socket");
    let s = b.video().unwrap().stats().clone();
    assert!(s.frames_received >= 59, "received {s:?}");
    assert_eq!((s.frame_width, s.frame_height), (320, 240));
    assert!(s.key_frames_received >= 6, "{s:?}");
    assert!(video_datagrams > 60, "{video_datagrams}");
    let sent = a.video_send.as_ref().unwrap().stats();
    assert!(
        sent.pli_count >= 1,
        "b's PLI reached a over the video wire: {sent:?}"
    );
    let _ = std::fs::remove_file(&rec);
    // The audio went its own way meanwhile.
    assert!(b.media().stats().packets_received > 100);
}

#[test]
fn two_peers_send_and_receive_video_over_plain_rtp() {
    two_peers(MediaProfile::Rtp);
}

#[test]
fn two_peers_send_and_receive_video_over_sdes_with_keys_per_section() {
    two_peers(MediaProfile::Sdes);
}

#[test]
fn towards_an_offer_with_ice_the_video_section_gets_ice_lite_credentials_and_candidates_of_its_own()
{
    let ice = AVP_OFFER.replace(
        "t=0 0\r\n",
        "t=0 0\r\na=ice-ufrag:u1\r\na=ice-pwd:p1p1p1p1p1p1p1p1p1p1p1p1\r\n",
    );
    let (mut p, sdp) = answer_to(&ice, cfg(MediaProfile::WebRtc, Some("recvonly")), true);
    assert!(sdp.contains("a=ice-lite\r\n"), "{sdp}");
    let (a, v) = (section(&sdp, "audio"), section(&sdp, "video"));
    assert!(v.starts_with("m=video 40002 RTP/AVP 100\r\n"), "{sdp}");
    assert!(
        v.contains("a=candidate:2 1 UDP 2130706431 127.0.0.1 40002 typ host\r\n"),
        "{v}"
    );
    assert!(
        v.contains("a=candidate:2 2 UDP 2130706430 127.0.0.1 40003 typ host\r\n"),
        "{v}"
    );
    let attr = |s: &str, k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::to_string)
    };
    let (ufrag, pwd) = (
        attr(v, "a=ice-ufrag:").unwrap(),
        attr(v, "a=ice-pwd:").unwrap(),
    );
    assert_ne!(
        Some(&ufrag),
        attr(a, "a=ice-ufrag:").as_ref(),
        "credentials of its own"
    );
    // A nominated check on the video socket moves the video there.
    let prio = crate::ice_lite::host_priority(1);
    let req = crate::ice_lite::tests::check(&format!("{ufrag}:u1"), &pwd, prio, true);
    let host = addr("10.0.0.9:50002");
    p.handle_datagram(Instant::now(), addr("127.0.0.1:40002"), host, &req);
    let tx = p.poll_transmit().expect("a Binding response");
    assert_eq!((tx.local, tx.remote), (addr("127.0.0.1:40002"), host));
    let pv = p.plain_video.as_ref().unwrap();
    assert_eq!(
        pv.transport.as_ref().unwrap().rtp.rtp_destination(),
        Some(host)
    );
}
