//! VideoSender: pacing, loops, NACK and PLI answers, checked against our
//! own receive pipeline.

use super::*;
use crate::video::clip::ClipFrame;
use crate::video::receiver::VideoReceiver;
use rtc::rtcp::payload_feedbacks::full_intra_request::FirEntry;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::nack_pairs_from_sequence_numbers;

fn payload(codec: VideoCodec, pt: u8, rtx: Option<u8>) -> VideoPayload {
    VideoPayload {
        pt,
        codec,
        fmtp: String::new(),
        rtx,
        nack: true,
        pli: true,
        fir: true,
    }
}

/// A 320x240 VP8 clip: a key frame of `key_len` bytes every `gop` frames, 30 fps.
fn vp8_clip(frames: usize, gop: usize, key_len: usize) -> Arc<Clip> {
    let frames = (0..frames)
        .map(|i| {
            let key = i % gop == 0;
            let mut data = if key {
                vec![0x50, 0x42, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]
            } else {
                vec![0x51, 0, 0]
            };
            data.resize(if key { key_len } else { 300 }, i as u8);
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

fn rtcp(p: impl RtcpPacket + 'static) -> Vec<Box<dyn RtcpPacket>> {
    vec![Box::new(p)]
}

#[test]
fn frames_are_paced_by_the_clip_and_reassemble_in_our_receiver() {
    let t0 = Instant::now();
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, Some(97))], 0x5000, 0x5001);
    let mut r = VideoReceiver::new(vec![payload(VideoCodec::Vp8, 96, Some(97))], 1);
    s.play(t0, vp8_clip(10, 5, 3000), false, PlayDone::none(), 0)
        .unwrap();
    s.tick(t0);
    // The key frame goes at once, in 3 packets (1200-byte payloads).
    let first = s.take_packets();
    assert_eq!(first.len(), 3);
    assert!(first[2].header.marker && !first[0].header.marker);
    let mut sent = first;
    // 20 ms media ticks for 400 ms: the other 9 frames, each when due.
    let mut ended_at = None;
    for tick in 1..=20u64 {
        let now = t0 + Duration::from_millis(20 * tick);
        if s.tick(now) {
            ended_at.get_or_insert(tick);
        }
        let pkts = s.take_packets();
        for p in &pkts {
            // Never ahead of the clip's own timing.
            let ts = p.header.timestamp.wrapping_sub(sent[0].header.timestamp);
            assert!(
                u64::from(ts) * 1000 / 90 <= 20_000 * tick,
                "{ts} at tick {tick}"
            );
        }
        sent.extend(pkts);
    }
    assert_eq!(
        ended_at,
        Some(15),
        "the last frame (at 300 ms) ends the clip"
    );
    assert!(!s.is_playing());
    for p in &sent {
        r.on_rtp(t0, p);
    }
    let st = r.stats();
    assert_eq!((st.frames_received, st.key_frames_received), (10, 2));
    assert_eq!((st.frame_width, st.frame_height), (320, 240));
    assert_eq!(st.packets_lost, 0);
    let ss = s.stats();
    assert_eq!((ss.frames_sent, ss.key_frames_sent), (10, 2));
    assert_eq!(ss.packets_sent, sent.len() as u64);
}

#[test]
fn a_looping_clip_restarts_at_its_key_frame_with_rising_timestamps() {
    let t0 = Instant::now();
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, None)], 7, 8);
    s.play(t0, vp8_clip(3, 3, 100), true, PlayDone::none(), 0)
        .unwrap();
    let mut ts = vec![];
    for tick in 0..10u64 {
        assert!(!s.tick(t0 + Duration::from_millis(20 * tick)));
        ts.extend(s.take_packets().iter().map(|p| p.header.timestamp));
    }
    // 200 ms of a 100 ms clip at 30 fps: 6 frames, two key frames.
    assert_eq!(ts.len(), 6);
    assert!(
        ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 3000),
        "{ts:?}"
    );
    assert_eq!(s.stats().key_frames_sent, 2);
}

#[test]
fn nacks_are_answered_over_rtx_or_plainly_and_plis_resend_the_key_frame() {
    let t0 = Instant::now();
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, Some(97))], 0x5000, 0x5001);
    let mut r = VideoReceiver::new(vec![payload(VideoCodec::Vp8, 96, Some(97))], 1);
    s.play(t0, vp8_clip(30, 30, 2000), true, PlayDone::none(), 0)
        .unwrap();
    s.tick(t0);
    let mut pkts = s.take_packets();
    for tick in 1..=5 {
        s.tick(t0 + Duration::from_millis(20 * tick));
        pkts.extend(s.take_packets());
    }
    // The second packet of the key frame is lost on the way.
    let lost = pkts.remove(1);
    for p in &pkts {
        r.on_rtp(t0, p);
    }
    assert_eq!(r.stats().frames_received, 0, "nothing decodable without it");
    let nack = TransportLayerNack {
        sender_ssrc: 1,
        media_ssrc: 0x5000,
        nacks: nack_pairs_from_sequence_numbers(&[lost.header.sequence_number]),
    };
    s.on_rtcp(t0, &rtcp(nack.clone()));
    let again = s.take_packets();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].header.payload_type, again[0].header.ssrc),
        (97, 0x5001)
    );
    r.on_rtp(t0, &again[0]);
    let st = r.stats();
    assert_eq!(st.retransmitted_packets_received, 1);
    assert_eq!(st.frames_received, 4, "the key frame and three after it");
    // NACKs for another SSRC or unknown packets are ignored.
    let other = TransportLayerNack {
        media_ssrc: 0x9999,
        ..nack.clone()
    };
    s.on_rtcp(t0, &rtcp(other));
    assert!(s.take_packets().is_empty());
    assert_eq!(s.stats().nack_count, 1);
    assert_eq!(s.stats().retransmitted_packets_sent, 1);

    // A PLI: the next frame sent is the key frame again, once per second.
    let pli = PictureLossIndication {
        sender_ssrc: 1,
        media_ssrc: 0x5000,
    };
    let t1 = t0 + Duration::from_millis(140);
    s.on_rtcp(t1, &rtcp(pli.clone()));
    s.on_rtcp(t1, &rtcp(pli));
    s.tick(t1);
    assert_eq!(s.stats().key_frames_sent, 2);
    assert_eq!(s.stats().pli_count, 2);
    let resent = s.take_packets();
    assert_eq!(resent.len(), 2, "the 2000-byte key frame");
    assert_eq!(resent[0].payload[4..], pkts[0].payload[4..]);
    // FIR: the same, deduplicated by its sequence number.
    let fir = FullIntraRequest {
        sender_ssrc: 1,
        media_ssrc: 0,
        fir: vec![FirEntry {
            ssrc: 0x5000,
            sequence_number: 4,
        }],
    };
    let t2 = t1 + KEY_ANSWER_INTERVAL;
    s.on_rtcp(t2, &rtcp(fir.clone()));
    s.on_rtcp(t2 + KEY_ANSWER_INTERVAL, &rtcp(fir));
    s.tick(t2 + KEY_ANSWER_INTERVAL);
    assert_eq!(s.stats().fir_count, 2);
    assert_eq!(
        s.stats().key_frames_sent,
        3,
        "one key frame for one request"
    );

    // Without RTX: the same packet again.
    let mut plain = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, None)], 0x6000, 0x6001);
    plain
        .play(t0, vp8_clip(1, 1, 100), false, PlayDone::none(), 0)
        .unwrap();
    plain.tick(t0);
    let p = plain.take_packets().remove(0);
    plain.on_rtcp(
        t0,
        &rtcp(TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 0x6000,
            nacks: nack_pairs_from_sequence_numbers(&[p.header.sequence_number]),
        }),
    );
    assert_eq!(plain.take_packets(), vec![p]);
}

#[test]
fn h264_clips_go_out_as_single_units_and_fu_a_and_codec_mismatch_is_refused() {
    let t0 = Instant::now();
    let idr: Vec<u8> = std::iter::once(0x65)
        .chain(std::iter::repeat_n(7, 3000))
        .collect();
    let clip = Arc::new(Clip {
        codec: VideoCodec::H264,
        frames: vec![ClipFrame {
            ts: 0,
            key: true,
            units: vec![vec![0x67, 0x42, 0xc0, 0x1e], vec![0x68, 0xce], idr],
        }],
        width: 0,
        height: 0,
        last_duration: 3000,
    });
    let mut vp8_only = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, None)], 1, 2);
    let e = vp8_only
        .play(t0, clip.clone(), false, PlayDone::none(), 0)
        .unwrap_err();
    assert!(e.contains("H264") && e.contains("VP8"), "{e}");
    let mut s = VideoSender::new(vec![payload(VideoCodec::H264, 102, None)], 1, 2);
    let mut r = VideoReceiver::new(vec![payload(VideoCodec::H264, 102, None)], 9);
    s.play(t0, clip, false, PlayDone::none(), 0).unwrap();
    s.tick(t0);
    let pkts = s.take_packets();
    assert_eq!(pkts.len(), 2 + 3, "SPS, PPS, then three FU-A fragments");
    assert_eq!(pkts[2].payload[0] & 0x1f, 28);
    assert!(pkts[4].header.marker && !pkts[3].header.marker);
    for p in &pkts {
        r.on_rtp(t0, p);
    }
    assert_eq!(
        (r.stats().frames_received, r.stats().key_frames_received),
        (1, 1)
    );
}

#[test]
fn outbound_stats_use_w3c_names() {
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, Some(97))], 10, 11);
    assert!(stats_entries(s.stats(), 0.0, "T").is_empty());
    let t0 = Instant::now();
    s.play(t0, vp8_clip(1, 1, 100), false, PlayDone::none(), 0)
        .unwrap();
    s.tick(t0);
    let e = stats_entries(s.stats(), 1.0, "T");
    let o = &e[1];
    assert_eq!(o["type"], "outbound-rtp");
    assert_eq!(o["kind"], "video");
    assert_eq!(o["framesSent"], 1);
    assert_eq!(o["frameWidth"], 320);
    assert_eq!(o["rtxSsrc"], 11);
    assert_eq!(e[0]["mimeType"], "video/VP8");
}

#[test]
fn play_outcomes_settle_once_and_older_requests_never_win() {
    let (tx, rx) = std::sync::mpsc::channel();
    let done = |tag: &'static str| {
        let tx = tx.clone();
        PlayDone::new(move |r| tx.send((tag, r)).unwrap())
    };
    let t0 = Instant::now();
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, None)], 1, 2);
    s.play(t0, vp8_clip(2, 2, 100), false, done("a"), 1)
        .unwrap();
    s.play(t0, vp8_clip(2, 2, 100), false, done("b"), 3)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), ("a", Ok(true)), "replaced");
    s.play(t0, vp8_clip(2, 2, 100), false, done("late"), 2)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), ("late", Ok(true)), "older than b");
    assert!(s.tick(t0 + Duration::from_millis(100)));
    assert_eq!(rx.try_recv().unwrap(), ("b", Ok(false)), "ended");
    s.play(t0, vp8_clip(2, 2, 100), true, done("c"), 4).unwrap();
    s.tick(t0);
    s.stop(6);
    assert_eq!(rx.try_recv().unwrap(), ("c", Ok(true)), "stopped");
    s.play(t0, vp8_clip(2, 2, 100), true, done("d"), 5).unwrap();
    s.tick(t0);
    assert_eq!(
        rx.try_recv().unwrap(),
        ("d", Ok(true)),
        "loaded after a later stop"
    );
    assert!(!s.is_playing());
    s.play(t0, vp8_clip(2, 2, 100), true, done("e"), 7).unwrap();
    s.tick(t0);
    drop(s);
    assert_eq!(
        rx.try_recv().unwrap(),
        ("e", Ok(true)),
        "the connection went away"
    );
}

#[test]
fn a_clip_over_the_far_ends_bandwidth_is_reported_not_reshaped() {
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, None)], 1, 2);
    // 3000 + 300-byte frames at 30 fps: about 150 kbit/s.
    let clip = vp8_clip(2, 2, 3000);
    s.set_max_bitrate(Some(1_000_000));
    s.play(Instant::now(), clip.clone(), false, PlayDone::none(), 1)
        .unwrap();
    assert!(s.take_warnings().is_empty());
    s.set_max_bitrate(Some(64_000));
    s.play(Instant::now(), clip, false, PlayDone::none(), 2)
        .unwrap();
    let w = s.take_warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("at most 64 kbit/s"), "{}", w[0]);
    assert_eq!(stats_entries(s.stats(), 0.0, "T")[1]["maxBitrate"], 64_000);
}

#[test]
fn sender_reports_map_the_rtp_clock_about_once_a_second_while_playing() {
    use rtc::rtcp::sender_report::SenderReport;
    let t0 = Instant::now();
    let mut s = VideoSender::new(vec![payload(VideoCodec::Vp8, 96, None)], 0x77, 0x78);
    assert!(
        s.poll_report(t0, 1).is_none(),
        "nothing before a clip plays"
    );
    s.play(t0, vp8_clip(30, 30, 100), true, PlayDone::none(), 1)
        .unwrap();
    s.tick(t0);
    let first_ts = s.take_packets()[0].header.timestamp;
    let r = s.poll_report(t0, 1).expect("a report");
    let sr = r[0].as_any().downcast_ref::<SenderReport>().unwrap();
    assert_eq!((sr.ssrc, sr.packet_count), (0x77, 1));
    // The first frame went out at t0: our clock reads its timestamp then.
    assert_eq!(sr.rtp_time, first_ts);
    assert!(
        s.poll_report(t0 + Duration::from_millis(500), 2).is_none(),
        "not yet"
    );
    let t1 = t0 + Duration::from_millis(1010);
    for ms in (10..=1010).step_by(20) {
        s.tick(t0 + Duration::from_millis(ms));
    }
    let r = s.poll_report(t1, 3).expect("a second report");
    let sr = r[0].as_any().downcast_ref::<SenderReport>().unwrap();
    assert_eq!(
        sr.rtp_time.wrapping_sub(first_ts),
        90_900,
        "1010 ms on the 90 kHz clock"
    );
}
