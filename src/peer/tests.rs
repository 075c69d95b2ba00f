use super::*;

fn peer() -> Peer {
    let now = Instant::now();
    Peer::new(
        PeerConfig::default(),
        vec!["127.0.0.1:40000".parse().unwrap()],
        now,
    )
}

#[test]
fn close_reports_every_state_once_and_refuses_later_calls() {
    let now = Instant::now();
    let mut p = peer();
    p.close();
    p.close();
    let ev: Vec<_> = std::iter::from_fn(|| p.poll_event()).collect();
    assert_eq!(
        ev,
        vec![
            PeerEvent::IceConnectionState("closed".into()),
            PeerEvent::ConnectionState("closed".into()),
            PeerEvent::SignalingState("closed"),
        ]
    );
    assert_eq!(p.create_offer(now, false).unwrap_err().code(), "ERR_CLOSED");
}
