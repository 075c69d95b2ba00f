use super::*;
use crate::dtmf::DtmfPayload;

fn pair(kind: CodecKind, pt: u8, te: Option<(u8, u32)>) -> (Media, Media) {
    let send = SendCodec {
        kind,
        pt,
        telephone_event: te,
    };
    let recv = RecvCodecs {
        audio: vec![(pt, kind)],
        telephone_event: te.into_iter().collect(),
    };
    let mut a = Media::new(1, 100, 1000);
    let mut b = Media::new(2, 65530, u32::MAX - 500);
    a.configure(Some(send.clone()), recv.clone()).unwrap();
    b.configure(Some(send), recv).unwrap();
    (a, b)
}

fn run(a: &mut Media, b: &mut Media, ticks: usize) -> (Vec<MediaEvent>, Vec<MediaEvent>) {
    let (mut ea, mut eb) = (vec![], vec![]);
    for _ in 0..ticks {
        if let Some(p) = a.tick(true, &mut ea) {
            b.on_rtp(
                &p,
                std::time::Duration::from_millis(20 * b.ticks()),
                &mut eb,
            );
        }
        if let Some(p) = b.tick(true, &mut eb) {
            a.on_rtp(
                &p,
                std::time::Duration::from_millis(20 * a.ticks()),
                &mut ea,
            );
        }
    }
    (ea, eb)
}

fn heard(events: &[MediaEvent]) -> Vec<i16> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Audio { samples, .. } => Some(samples.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn tone_crosses_each_codec() {
    for (kind, pt) in [
        (CodecKind::Opus, 111),
        (CodecKind::G722, 9),
        (CodecKind::Pcmu, 0),
        (CodecKind::Pcma, 8),
        (CodecKind::G729, 18),
    ] {
        let (mut a, mut b) = pair(kind, pt, None);
        a.write_pcm(&crate::tone::sine(1000.0, 16000, 16000, 8000), 16000)
            .unwrap();
        b.subscribe_audio(16000, 100).unwrap();
        let (_, eb) = run(&mut a, &mut b, 50);
        let pcm = heard(&eb);
        let tail = &pcm[pcm.len() / 2..];
        let f = crate::tone::dominant_frequency(tail, 16000).expect("tone heard");
        assert!((f - 1000.0).abs() < 20.0, "{kind:?}: heard {f} Hz");
    }
}

/// RFC 3551 §4.5.2: G.722 encodes 320 samples per 20 ms but stamps
/// them on an 8000 Hz clock, so timestamps advance by 160, payloads are
/// 160 bytes, and the receiver hears wideband audio at the right pitch.
#[test]
fn g722_timestamps_count_8000_hz_and_audio_stays_wideband() {
    let (mut a, mut b) = pair(CodecKind::G722, 9, None);
    // 6 kHz only exists in wideband audio: G.711 and G.729 cannot carry it.
    a.write_pcm(&crate::tone::sine(6000.0, 16000, 16000, 8000), 16000)
        .unwrap();
    b.subscribe_audio(16000, 100).unwrap();
    let mut ev = vec![];
    let pkts: Vec<Packet> = (0..50).filter_map(|_| a.tick(true, &mut ev)).collect();
    assert_eq!(pkts.len(), 50);
    for w in pkts.windows(2) {
        assert_eq!(
            w[1].header.timestamp.wrapping_sub(w[0].header.timestamp),
            160
        );
    }
    assert!(pkts
        .iter()
        .all(|p| p.payload.len() == 160 && p.header.payload_type == 9));
    let sr = a.sender_info().unwrap();
    assert_eq!(sr.rtp_time, pkts[49].header.timestamp);
    for p in &pkts {
        b.on_rtp(p, std::time::Duration::ZERO, &mut ev);
        b.tick(true, &mut ev);
    }
    let pcm = heard(&ev);
    let tail = &pcm[pcm.len() / 2..];
    assert!(crate::tone::rms(tail) > 3000.0);
    // Through an 8 kHz path 6 kHz would vanish or fold to 2 kHz.
    let p6 = crate::tone::goertzel_power(tail, 16000, 6000.0);
    let p2 = crate::tone::goertzel_power(tail, 16000, 2000.0);
    assert!(p6 > 1000.0 * p2, "6 kHz power {p6}, 2 kHz {p2}");
}

#[test]
fn subscribers_at_two_rates_each_get_every_frame() {
    let (mut a, mut b) = pair(CodecKind::Opus, 111, None);
    a.write_pcm(&crate::tone::sine(1000.0, 16000, 16000, 8000), 16000)
        .unwrap();
    b.subscribe_audio(16000, 100).unwrap();
    b.subscribe_audio(8000, 20).unwrap();
    let (_, eb) = run(&mut a, &mut b, 50);
    let at = |rate: u32| -> Vec<i16> {
        eb.iter()
            .filter_map(|e| match e {
                MediaEvent::Audio {
                    samples,
                    sample_rate,
                } if *sample_rate == rate => Some(samples.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let (wide, narrow) = (at(16000), at(8000));
    // The same stretch of audio at each rate (within one batch of 100 ms).
    assert!(
        wide.len() >= 8000 && narrow.len() >= 4000,
        "{} {}",
        wide.len(),
        narrow.len()
    );
    assert!((wide.len() as i64 / 2 - narrow.len() as i64).abs() <= 800);
    for (pcm, rate) in [(&wide, 16000), (&narrow, 8000)] {
        let f = crate::tone::dominant_frequency(&pcm[pcm.len() / 2..], rate).unwrap();
        assert!((f - 1000.0).abs() < 20.0, "{rate}: {f}");
    }
    // Unsubscribing one rate leaves the other.
    b.unsubscribe_audio(Some(8000));
    let (_, eb) = run(&mut a, &mut b, 10);
    assert!(eb.iter().all(|e| !matches!(
        e,
        MediaEvent::Audio {
            sample_rate: 8000,
            ..
        }
    )));
    assert!(eb.iter().any(|e| matches!(
        e,
        MediaEvent::Audio {
            sample_rate: 16000,
            ..
        }
    )));
    b.unsubscribe_audio(None);
    let (_, eb) = run(&mut a, &mut b, 10);
    assert!(!eb.iter().any(|e| matches!(e, MediaEvent::Audio { .. })));
}

#[test]
fn dtmf_digits_arrive_once() {
    for rate in [8000, 48000] {
        let (mut a, mut b) = pair(CodecKind::Opus, 111, Some((101, rate)));
        a.send_dtmf("123#*A", 100, 70).unwrap();
        let (ea, eb) = run(&mut a, &mut b, 100);
        let digits: String = eb
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Dtmf(c) => Some(*c),
                _ => None,
            })
            .collect();
        assert_eq!(digits, "123#*A", "telephone-event/{rate}");
        // W3C tonechange on the sender: each tone as it starts, then "".
        let tones: Vec<Option<char>> = ea
            .iter()
            .filter_map(|e| match e {
                MediaEvent::ToneChange(t) => Some(*t),
                _ => None,
            })
            .collect();
        let want: Vec<Option<char>> = "123#*A".chars().map(Some).chain([None]).collect();
        assert_eq!(tones, want);
    }
}

fn digits_heard(events: &[MediaEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf(c) | MediaEvent::Listen(ListenEvent::Dtmf(c)) => Some(*c),
            _ => None,
        })
        .collect()
}

fn inband(keys: &str) -> Vec<i16> {
    let mut v = vec![0i16; 800];
    for k in keys.chars() {
        v.extend(crate::listen::inband_dtmf::synthesize(
            k, 100, 6000.0, 0.0, 0.0,
        ));
        v.extend(vec![0i16; 640]);
    }
    v
}

#[test]
fn inband_dtmf_crosses_each_codec() {
    for (kind, pt) in [
        (CodecKind::Pcmu, 0),
        (CodecKind::Pcma, 8),
        (CodecKind::Opus, 111),
    ] {
        let (mut a, mut b) = pair(kind, pt, None);
        a.write_pcm(&inband("159#0*"), 8000).unwrap();
        let (_, eb) = run(&mut a, &mut b, 150);
        assert_eq!(digits_heard(&eb), "159#0*", "{kind:?}");
        assert!(eb.iter().all(|e| !matches!(e, MediaEvent::Dtmf(_))));
        // Off: nothing.
        let (mut a, mut b) = pair(kind, pt, None);
        b.listener_mut().set_inband_dtmf(false);
        a.write_pcm(&inband("159#0*"), 8000).unwrap();
        let (_, eb) = run(&mut a, &mut b, 150);
        assert_eq!(digits_heard(&eb), "", "{kind:?} off");
    }
}

/// A peer that sends each press both ways is heard once per press.
#[test]
fn rfc4733_and_inband_copies_count_once() {
    let (mut a, mut b) = pair(CodecKind::Pcmu, 0, Some((101, 8000)));
    let (mut c, _) = pair(CodecKind::Pcmu, 0, Some((101, 8000)));
    a.write_pcm(&inband("1125"), 8000).unwrap();
    // c's RFC 4733 events, started with a's tones (100 ms on, 80 off).
    c.send_dtmf("1125", 100, 80).unwrap();
    let (mut ea, mut eb) = (vec![], vec![]);
    for _ in 0..120 {
        if let Some(p) = a.tick(true, &mut ea) {
            b.on_rtp(&p, std::time::Duration::ZERO, &mut eb);
        }
        let mut pkts: Vec<Packet> = c.tick(true, &mut ea).into_iter().collect();
        pkts.extend(c.next_packet());
        for p in pkts.iter().filter(|p| p.header.payload_type == 101) {
            b.on_rtp(p, std::time::Duration::ZERO, &mut eb);
        }
        b.tick(true, &mut eb);
    }
    assert_eq!(digits_heard(&eb), "1125");
    assert!(eb.iter().any(|e| matches!(e, MediaEvent::Dtmf(_))));
}

/// Every packet a DTMF sender emits, against RFC 4733 §2.3-2.5 and what
/// libwebrtc's receiver (NetEq) needs: per event one timestamp on the
/// audio's timeline, the marker on the first packet only, durations
/// growing by a frame, three identical end packets sent together on the
/// event's last tick (a later repeat can reach NetEq after it played the
/// event, and it plays the tone again), sequence numbers shared with
/// audio, and no overlap and no hole between the event and the audio
/// around it; the inter-tone gap is kept.
#[test]
fn dtmf_packets_follow_rfc4733() {
    for (kind, pt, te_rate) in [
        (CodecKind::Pcmu, 0, 8000),
        (CodecKind::Opus, 111, 8000), // Firefox: telephone-event/8000 only
        (CodecKind::Opus, 111, 48000),
        (CodecKind::G722, 9, 8000), // 16 kHz audio, 8000 Hz RTP clock
        (CodecKind::G729, 18, 8000),
    ] {
        let what = format!("{kind:?} + telephone-event/{te_rate}");
        let (mut a, mut b) = pair(kind, pt, Some((101, te_rate)));
        let clock = kind.clock_rate();
        let frame = kind.rtp_frame_ticks();
        let mut ev = vec![];
        let mut pkts: Vec<(usize, Packet)> = vec![];
        for t in 0..5 {
            pkts.push((t, a.tick(true, &mut ev).unwrap()));
            assert!(a.next_packet().is_none());
        }
        a.send_dtmf("1234", 100, 70).unwrap();
        for t in 5..80 {
            let mut next = a.tick(true, &mut ev);
            let mut n = 0;
            while let Some(p) = next {
                pkts.push((t, p));
                n += 1;
                next = a.next_packet();
            }
            assert!((1..=3).contains(&n), "{what}: {n} packets on tick {t}");
        }
        // Sequence numbers: one counter for audio and events, no gaps.
        for w in pkts.windows(2) {
            let (s0, s1) = (w[0].1.header.sequence_number, w[1].1.header.sequence_number);
            assert_eq!(s1, s0.wrapping_add(1), "{what}: sequence");
        }
        let audio: Vec<&(usize, Packet)> = pkts
            .iter()
            .filter(|p| p.1.header.payload_type == pt)
            .collect();
        let te: Vec<&(usize, Packet)> = pkts
            .iter()
            .filter(|p| p.1.header.payload_type == 101)
            .collect();
        assert!(audio.iter().all(|p| !p.1.header.marker));
        // Group event packets by timestamp, in order.
        // (timestamp, [(tick, payload, marker)]) per event.
        type Event = (u32, Vec<(usize, DtmfPayload, bool)>);
        let mut events: Vec<Event> = vec![];
        for (t, p) in &te {
            let d = DtmfPayload::parse(&p.payload).unwrap();
            match events.last_mut() {
                Some((ts, v)) if *ts == p.header.timestamp => v.push((*t, d, p.header.marker)),
                _ => events.push((p.header.timestamp, vec![(*t, d, p.header.marker)])),
            }
        }
        assert_eq!(events.len(), 4, "{what}: one timestamp per event");
        let want_dur = (100 * clock / 1000) as u16; // in the audio clock
        let mut covered: Vec<(u32, u32)> = audio
            .iter()
            .map(|p| (p.1.header.timestamp, frame))
            .collect();
        for (i, (ts, v)) in events.iter().enumerate() {
            let digit = "1234".as_bytes()[i] - b'0';
            assert!(v.iter().all(|x| x.1.event == digit), "{what}: event code");
            assert!(
                v[0].2 && v[1..].iter().all(|x| !x.2),
                "{what}: marker on the first packet only"
            );
            let ends: Vec<_> = v.iter().filter(|x| x.1.end).collect();
            assert_eq!(ends.len(), 3, "{what}: the end packet is sent 3 times");
            assert!(
                ends.iter().all(|x| x.1.duration == want_dur),
                "{what}: end duration"
            );
            assert!(
                v[v.len() - 3..].iter().all(|x| x.1.end),
                "{what}: nothing after the ends"
            );
            let growing: Vec<u16> = v[..v.len() - 2].iter().map(|x| x.1.duration).collect();
            let want: Vec<u16> = (1..=growing.len() as u32)
                .map(|k| (k * frame) as u16)
                .collect();
            assert_eq!(
                growing, want,
                "{what}: duration grows by a frame per packet"
            );
            // One packet per tick, the three ends together on the last.
            let ticks: Vec<usize> = v.iter().map(|x| x.0).collect();
            let (once, ends_at) = ticks.split_at(ticks.len() - 3);
            assert!(
                once.windows(2).all(|w| w[1] == w[0] + 1)
                    && ends_at.iter().all(|t| *t == once[once.len() - 1] + 1),
                "{what}: {ticks:?}"
            );
            // The event covers its ticks: no audio on them.
            for x in v.iter() {
                assert!(
                    !audio.iter().any(|p| p.0 == x.0),
                    "{what}: audio beside tick {}",
                    x.0
                );
            }
            covered.push((*ts, u32::from(want_dur)));
            if i > 0 {
                let prev_end = events[i - 1].0.wrapping_add(u32::from(want_dur));
                let gap = ts.wrapping_sub(prev_end);
                assert!(gap >= 70 * clock / 1000, "{what}: gap {gap} between events");
            }
        }
        // The audio timeline: audio frames and events tile it exactly,
        // with neither overlaps nor holes (a hole is concealed by the
        // receiver, which stretches the last tone into a second digit).
        let base = covered[0].0;
        covered.sort_by_key(|c| c.0.wrapping_sub(base));
        for w in covered.windows(2) {
            assert_eq!(
                w[0].0.wrapping_add(w[0].1),
                w[1].0,
                "{what}: timeline {:?} -> {:?}",
                w[0],
                w[1]
            );
        }
        // And the receiving side hears each digit once.
        for (_, p) in &pkts {
            b.on_rtp(p, std::time::Duration::ZERO, &mut ev);
        }
        let mut got = String::new();
        for e in &ev {
            if let MediaEvent::Dtmf(c) = e {
                got.push(*c);
            }
        }
        assert_eq!(got, "1234", "{what}");
    }
}

#[test]
fn hold_stops_sending_and_play_still_ends() {
    let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
    a.set_direction(Direction::RecvOnly);
    a.play(7, &vec![1000; 8000], 8000, false).unwrap();
    let (ea, _) = run(&mut a, &mut b, 60);
    assert_eq!(b.stats().packets_received, 0);
    assert!(ea.contains(&MediaEvent::PlayEnded {
        id: 7,
        stopped: false
    }));
}

#[test]
fn looped_play_repeats_until_stopped_then_the_next_plays() {
    let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
    // 100 ms of tone, looped: still going after 1 s, no PlayEnded.
    a.play(1, &crate::tone::sine(1000.0, 8000, 800, 8000), 8000, true)
        .unwrap();
    a.play(2, &[0; 160], 8000, false).unwrap();
    b.subscribe_audio(8000, 100).unwrap();
    let (ea, eb) = run(&mut a, &mut b, 50);
    assert!(!ea.iter().any(|e| matches!(e, MediaEvent::PlayEnded { .. })));
    let pcm = heard(&eb);
    let f = crate::tone::dominant_frequency(&pcm[pcm.len() / 2..], 8000).expect("tone heard");
    assert!((f - 1000.0).abs() < 20.0, "heard {f} Hz");
    let mut ev = vec![];
    a.stop_playback(&mut ev);
    assert_eq!(
        ev,
        vec![
            MediaEvent::PlayEnded {
                id: 1,
                stopped: true
            },
            MediaEvent::PlayEnded {
                id: 2,
                stopped: true
            }
        ]
    );
    // Empty and looped: ends at once rather than spinning.
    a.play(3, &[], 8000, true).unwrap();
    let (ea, _) = run(&mut a, &mut b, 2);
    assert!(ea.contains(&MediaEvent::PlayEnded {
        id: 3,
        stopped: false
    }));
}

#[test]
fn rtp_timeout_fires_once_and_rearms() {
    let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
    a.set_rtp_timeout_ticks(10);
    run(&mut a, &mut b, 20);
    let mut ev = vec![];
    for _ in 0..30 {
        a.tick(true, &mut ev); // b went silent
    }
    assert_eq!(
        ev.iter().filter(|e| **e == MediaEvent::RtpTimeout).count(),
        1
    );
    let (ea, _) = run(&mut a, &mut b, 5);
    assert!(!ea.contains(&MediaEvent::RtpTimeout), "RTP flowing again");
}

#[test]
fn one_way_delay_is_the_injected_transit_time() {
    use rtc::rtp::packet::Packet as RtpPacket;
    use rtc::shared::marshal::{Marshal, Unmarshal};
    use std::time::{Duration, Instant, SystemTime};
    let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
    a.enable_one_way_delay();
    b.enable_one_way_delay();
    a.set_abs_send_time_id(Some(3));
    b.set_abs_send_time_id(Some(3));
    let t0 = Instant::now();
    // Anchored 5 ms before a 64 s wrap, so some packets cross it.
    let anchor = crate::delay::WallAnchor::new(
        t0,
        SystemTime::UNIX_EPOCH + Duration::from_millis(64 * 1000 * 26_000_000 - 5),
    );
    let transit = Duration::from_micros(7_320);
    let mut ev = vec![];
    for i in 0..50u32 {
        let sent_at = t0 + Duration::from_millis(20) * i;
        let mut pkt = a.tick(true, &mut ev).expect("sending");
        a.stamp_send_time(&mut pkt, anchor.unix_time(sent_at));
        // Through the wire format: the one-byte extension must survive.
        let wire = pkt.marshal().unwrap();
        let pkt = RtpPacket::unmarshal(&mut &wire[..]).unwrap();
        assert_eq!(pkt.header.extension_profile, 0xBEDE);
        b.record_send_time(&pkt, anchor.unix_time(sent_at + transit));
        b.on_rtp(&pkt, Duration::from_millis(20) * i, &mut ev);
    }
    let h = b.one_way_delay().unwrap();
    assert_eq!(h.samples(), 50);
    // 7.32 ms lies in the 0.5 ms bin [7, 7.5): both quantiles report 7.25 ms.
    assert!((h.quantile(0.5).unwrap() - 0.007_25).abs() < 1e-9);
    assert!((h.quantile(0.99).unwrap() - 0.007_25).abs() < 1e-9);
    // No id negotiated: no extension written, no samples taken.
    b.set_abs_send_time_id(None);
    a.set_abs_send_time_id(None);
    let mut pkt = a.tick(true, &mut ev).unwrap();
    a.stamp_send_time(&mut pkt, anchor.unix_time(t0));
    assert!(!pkt.header.extension);
    b.record_send_time(&pkt, anchor.unix_time(t0));
    assert_eq!(b.one_way_delay().unwrap().samples(), 50);
    // Disabled (the default): nothing allocated.
    let (c, _) = pair(CodecKind::Pcmu, 0, None);
    assert!(c.one_way_delay().is_none());
}

#[test]
fn dtmf_refused_without_telephone_event() {
    let (mut a, _) = pair(CodecKind::Pcmu, 0, None);
    assert_eq!(
        a.send_dtmf("1", 100, 70).unwrap_err().code(),
        "ERR_INVALID_STATE"
    );
}
