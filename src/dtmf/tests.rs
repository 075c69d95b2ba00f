use super::*;

/// Runs a sender to completion, mapping packets to RTP timestamps and
/// sending each `copies` times the way the caller would. Returns
/// (tick, rtp_ts, packet) per packet sent.
fn run(sender: &mut DtmfSender, ts0: u32) -> Vec<(u64, u32, DtmfPacketOut)> {
    let spt = sender.clock_rate() / 50;
    let mut out = Vec::new();
    let mut tick = 0u64;
    while sender.is_busy() && tick < 100_000 {
        let ts_now = ts0.wrapping_add((tick as u32).wrapping_mul(spt));
        if let Some(p) = sender.tick() {
            for _ in 0..p.copies {
                out.push((tick, ts_now.wrapping_sub(p.timestamp_offset), p));
            }
        }
        tick += 1;
    }
    out
}

#[test]
fn char_event_mapping() {
    let all = "0123456789*#ABCD";
    for (i, c) in all.chars().enumerate() {
        assert_eq!(char_to_event(c), Some(i as u8));
        assert_eq!(event_to_char(i as u8), Some(c));
    }
    assert_eq!(char_to_event('a'), Some(12));
    assert_eq!(char_to_event('d'), Some(15));
    assert_eq!(char_to_event('E'), None);
    assert_eq!(char_to_event(','), None);
    assert_eq!(event_to_char(16), None);
}

#[test]
fn payload_round_trip() {
    let p = DtmfPayload {
        event: 11,
        end: true,
        volume: 10,
        duration: 1600,
    };
    let b = p.to_bytes();
    assert_eq!(b, [11, 0x8A, 0x06, 0x40]);
    assert_eq!(DtmfPayload::parse(&b), Ok(p));
    assert_eq!(DtmfPayload::parse(&[1, 2, 3]), Err(DtmfError::TooShort(3)));
    let r = DtmfPayload::parse(&[5, 0x40 | 7, 0, 1]).unwrap();
    assert!(!r.end);
    assert_eq!(r.volume, 7);
}

#[test]
fn sender_to_receiver_both_rates() {
    for rate in [8000u32, 48000] {
        for ts0 in [0u32, u32::MAX - 5000] {
            let mut s = DtmfSender::new(rate);
            s.queue("123#*A", 100, 70).unwrap();
            let pkts = run(&mut s, ts0);
            let mut r = DtmfReceiver::new();
            let got: String = pkts
                .iter()
                .filter_map(|(_, ts, p)| r.on_packet(*ts, &p.payload))
                .collect();
            assert_eq!(got, "123#*A", "rate {rate}");
            // 5 packets per 100 ms tone + 2 more copies of the end.
            assert_eq!(pkts.len(), 6 * 7);
        }
    }
}

#[test]
fn packet_structure() {
    let mut s = DtmfSender::new(8000);
    s.queue("5", 100, 50).unwrap();
    assert!(s.is_sending_event());
    let pkts = run(&mut s, 1000);
    assert_eq!(pkts.len(), 7);
    assert!(pkts[0].2.marker);
    assert!(pkts[1..].iter().all(|p| !p.2.marker));
    assert!(pkts.iter().all(|p| p.1 == 1000)); // all share the start ts
    let durs: Vec<u16> = pkts
        .iter()
        .map(|p| DtmfPayload::parse(&p.2.payload).unwrap().duration)
        .collect();
    assert_eq!(durs, vec![160, 320, 480, 640, 800, 800, 800]);
    let ends: Vec<bool> = pkts.iter().map(|p| p.2.end).collect();
    assert_eq!(ends, vec![false, false, false, false, true, true, true]);
    // One packet per tick; the three end packets together on the last
    // (a repeat on a later tick can replay the tone in NetEq).
    assert_eq!(
        pkts.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 4, 4]
    );
    // The event covers ticks 0..=4; the gap (50 ms: 3 ticks) is audio.
    let mut s = DtmfSender::new(8000);
    s.queue("5", 100, 50).unwrap();
    let sent: Vec<u32> = (0..5).map(|_| s.tick().map_or(0, |p| p.copies)).collect();
    assert_eq!(sent, vec![1, 1, 1, 1, END_PACKETS]);
    for _ in 0..3 {
        assert!(s.is_busy() && !s.is_sending_event());
        assert!(s.tick().is_none());
    }
    assert!(!s.is_busy());
    assert!(!s.is_busy());
}

#[test]
fn gap_between_tones() {
    let mut s = DtmfSender::new(8000);
    s.queue("12", 40, 100).unwrap();
    let pkts = run(&mut s, 0);
    // Tone 1: ticks 0,1 (ends on 1). Gap of 5 ticks: 2..=6.
    let starts: Vec<u64> = pkts.iter().filter(|p| p.2.marker).map(|p| p.0).collect();
    assert_eq!(starts, vec![0, 7]);
}

#[test]
fn pause_length() {
    let mut s = DtmfSender::new(8000);
    s.queue("1,2", 40, 30).unwrap();
    let pkts = run(&mut s, 0);
    let starts: Vec<u64> = pkts.iter().filter(|p| p.2.marker).map(|p| p.0).collect();
    // Tone 1 ticks 0,1, gap ticks 2,3, then 100 pause ticks.
    assert_eq!(starts, vec![0, 104]);
    assert!(!s.is_sending_event());
}

#[test]
fn invalid_tone_rejected_and_queue_kept() {
    let mut s = DtmfSender::new(8000);
    s.queue("12", 40, 30).unwrap();
    assert_eq!(s.queue("1x", 40, 30), Err(DtmfError::InvalidTone('x')));
    assert!(s.is_busy());
    let pkts = run(&mut s, 0);
    assert_eq!(pkts.iter().filter(|p| p.2.marker).count(), 2);
    assert_eq!(s.queue("E", 40, 30), Err(DtmfError::InvalidTone('E')));
    assert!(s.queue("abcd*#", 40, 30).is_ok());
}

#[test]
fn duration_clamped() {
    let mut s = DtmfSender::new(8000);
    s.queue("1", 1, 1).unwrap();
    assert_eq!(run(&mut s, 0).len(), 2 + 2);
    s.queue("1", 100_000, 30).unwrap();
    let pkts = run(&mut s, 0);
    assert_eq!(pkts.len(), 300 + 2);
    assert_eq!(
        DtmfPayload::parse(&pkts[301].2.payload).unwrap().duration,
        48000
    );
}

#[test]
fn long_event_at_48k_segments_and_reports_once() {
    let mut s = DtmfSender::new(48000);
    s.queue("9", 3000, 30).unwrap();
    let pkts = run(&mut s, 77);
    let ts: std::collections::BTreeSet<u32> = pkts.iter().map(|p| p.1).collect();
    assert!(ts.len() > 1, "expected several segments");
    assert_eq!(pkts.iter().filter(|p| p.2.marker).count(), 1);
    let mut r = DtmfReceiver::new();
    let got: String = pkts
        .iter()
        .filter_map(|(_, t, p)| r.on_packet(*t, &p.payload))
        .collect();
    assert_eq!(got, "9");
}

#[test]
fn lost_first_packet_reported_once() {
    let mut s = DtmfSender::new(8000);
    s.queue("77", 100, 50).unwrap();
    let pkts = run(&mut s, 500);
    let mut r = DtmfReceiver::new();
    let got: String = pkts
        .iter()
        .filter(|p| !p.2.marker) // drop every start packet
        .filter_map(|(_, t, p)| r.on_packet(*t, &p.payload))
        .collect();
    assert_eq!(got, "77");
}

#[test]
fn receiver_ignores_retransmits_stale_and_garbage() {
    let mut r = DtmfReceiver::new();
    let p = |ev: u8, end: bool, d: u16| {
        DtmfPayload {
            event: ev,
            end,
            volume: 10,
            duration: d,
        }
        .to_bytes()
    };
    assert_eq!(r.on_packet(1000, &p(1, false, 160)), Some('1'));
    assert_eq!(r.on_packet(1000, &p(1, true, 800)), None);
    assert_eq!(r.on_packet(1000, &p(1, true, 800)), None);
    assert_eq!(r.on_packet(2000, &p(1, false, 160)), Some('1'));
    assert_eq!(r.on_packet(1000, &p(1, true, 800)), None); // stale
    assert_eq!(r.on_packet(3000, &[1, 2]), None);
    assert_eq!(r.on_packet(3000, &p(16, false, 160)), None); // flash
    assert_eq!(r.on_packet(4000, &p(15, true, 160)), Some('D'));
    // Timestamp wrap.
    // Just "before" 4000 in wrapping arithmetic: stale.
    assert_eq!(r.on_packet(u32::MAX - 100, &p(2, true, 160)), None);
    let mut r = DtmfReceiver::new();
    assert_eq!(r.on_packet(u32::MAX - 100, &p(2, true, 160)), Some('2'));
    assert_eq!(r.on_packet(200, &p(3, false, 160)), Some('3'));
    assert_eq!(r.on_packet(u32::MAX - 100, &p(2, true, 160)), None);
}

#[test]
fn cancel_finishes_current_tone() {
    let mut s = DtmfSender::new(8000);
    s.queue("12", 1000, 30).unwrap();
    for _ in 0..3 {
        s.tick();
    }
    s.cancel();
    let pkts = run(&mut s, 0);
    assert!(pkts.iter().all(|p| p.2.end && p.0 == 0));
    assert_eq!(pkts.len(), 3);
    assert!(!s.is_busy());
}
