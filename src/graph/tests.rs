//! Two calls bridged inside one process: caller <-Opus-> leg1 ~link~ leg2
//! <-PCMU-> callee, every packet through the real pipelines.

use crate::audio::codec::CodecKind;
use crate::media::{Media, MediaEvent, RecvCodecs, SendCodec};
use crate::sdp::Direction;
use std::time::Duration;

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
    let mut b = Media::new(2, 200, 2000);
    a.configure(Some(send.clone()), recv.clone()).unwrap();
    b.configure(Some(send), recv).unwrap();
    (a, b)
}

/// One tick of both calls (each a pair of pipelines joined by a "wire").
fn step(m: &mut [&mut Media; 4], ev: &mut [Vec<MediaEvent>; 4]) {
    for (x, y) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
        if let Some(p) = m[x].tick(true, &mut ev[x]) {
            let at = Duration::from_millis(20 * m[y].ticks());
            m[y].on_rtp(&p, at, &mut ev[y]);
            while let Some(p) = m[x].next_packet() {
                m[y].on_rtp(&p, at, &mut ev[y]);
            }
        }
    }
}

fn audio(ev: &[MediaEvent]) -> Vec<i16> {
    ev.iter()
        .filter_map(|e| match e {
            MediaEvent::Audio { samples, .. } => Some(samples.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn opus_leg_bridged_to_pcmu_leg_carries_tones_both_ways_and_dtmf() {
    let (mut caller, mut leg1) = pair(CodecKind::Opus, 111, Some((101, 48000)));
    let (mut leg2, mut callee) = pair(CodecKind::Pcmu, 0, Some((101, 8000)));
    let (l1, l2) = super::link::pair();
    leg1.attach_port(super::Port::Link(l1));
    leg2.attach_port(super::Port::Link(l2));
    caller
        .play(
            1,
            &crate::tone::sine(1000.0, 16000, 48000, 8000),
            16000,
            true,
        )
        .unwrap();
    callee
        .play(2, &crate::tone::sine(600.0, 8000, 24000, 8000), 8000, true)
        .unwrap();
    caller.subscribe_audio(16000, 100).unwrap();
    callee.subscribe_audio(8000, 100).unwrap();
    let mut ev: [Vec<MediaEvent>; 4] = Default::default();
    for _ in 0..50 {
        step(
            &mut [&mut caller, &mut leg1, &mut leg2, &mut callee],
            &mut ev,
        );
    }
    let f = |pcm: Vec<i16>, rate| {
        crate::tone::dominant_frequency(&pcm[pcm.len() / 2..], rate).expect("a tone")
    };
    assert!(
        (f(audio(&ev[3]), 8000) - 1000.0).abs() < 20.0,
        "callee hears the caller"
    );
    assert!(
        (f(audio(&ev[0]), 16000) - 600.0).abs() < 20.0,
        "caller hears the callee"
    );

    // RFC 4733 digits from the caller reach the callee as RFC 4733 digits.
    caller.send_dtmf("159#", 100, 70).unwrap();
    for _ in 0..80 {
        step(
            &mut [&mut caller, &mut leg1, &mut leg2, &mut callee],
            &mut ev,
        );
    }
    let digits: String = ev[3]
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(digits, "159#");

    // Hold on leg 2 (the callee's leg does not receive): the caller hears silence.
    leg2.set_direction(Direction::SendOnly);
    ev = Default::default();
    for _ in 0..25 {
        step(
            &mut [&mut caller, &mut leg1, &mut leg2, &mut callee],
            &mut ev,
        );
    }
    let heard = audio(&ev[0]);
    assert!(
        crate::tone::rms(&heard[heard.len() / 2..]) < 50.0,
        "held: silence"
    );

    // Unbridging one end detaches the other on its next tick.
    assert!(leg1.detach_port(None));
    step(
        &mut [&mut caller, &mut leg1, &mut leg2, &mut callee],
        &mut ev,
    );
    assert_eq!(leg2.port_id(), None);
}
