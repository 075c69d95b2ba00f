//! One shard's thread: the `mio` poll loop, the shared 20 ms media tick, the
//! timer heap and the command channel; every peer call is guarded so a panic
//! fails one call, not the shard.

use super::{Command, Entry, HOUSEKEEPING, LIVE_PEERS, OPEN_SOCKETS, TICK, WAKER};
use crate::peer::{Peer, PeerEvent};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Shard {
    poll: Poll,
    rx: Receiver<Command>,
    peers: HashMap<u64, Entry>,
    /// Which peer a socket's token belongs to (the peer's socket list is
    /// searched by token: a call has a handful, and sockets may close in
    /// any order).
    tokens: HashMap<Token, u64>,
    next_token: usize,
    next_tick: Instant,
    /// Peers' next deadlines, earliest first. Entries go stale when a peer's
    /// deadline moves or it leaves; a popped entry counts only if it still
    /// matches `Entry::scheduled`. Keeps a wake-up O(events), not O(calls).
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Peers that got input since the last flush.
    touched: Vec<u64>,
    buf: Vec<u8>,
    load: Arc<AtomicUsize>,
    /// Media ticks so far (for housekeeping).
    ticks: u32,
}

/// Ticks between two housekeeping calls (1 s).
const HOUSEKEEPING_TICKS: u32 = 50;

impl Shard {
    pub(super) fn new(poll: Poll, rx: Receiver<Command>, load: Arc<AtomicUsize>) -> Self {
        Shard {
            poll,
            rx,
            peers: HashMap::new(),
            tokens: HashMap::new(),
            next_token: 0,
            next_tick: Instant::now() + TICK,
            timers: BinaryHeap::new(),
            touched: Vec::new(),
            buf: vec![0u8; 2048],
            load,
            ticks: 0,
        }
    }

    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let mut wake = self.next_tick;
            if let Some(Reverse((t, _))) = self.timers.peek() {
                wake = wake.min(*t);
            }
            let timeout = wake.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    log::error!("sipwire shard poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            let now = Instant::now();
            for ev in events.iter() {
                if ev.token() != WAKER {
                    self.read_socket(ev.token(), now);
                }
            }
            if !self.drain_commands(now) {
                return;
            }
            if now >= self.next_tick {
                for (id, e) in self.peers.iter_mut() {
                    guarded(*id, e, "media tick", |p| p.media_tick(now));
                    e.touched = false;
                    flush(e);
                    reschedule(&mut self.timers, *id, e);
                }
                self.next_tick += TICK;
                self.ticks = self.ticks.wrapping_add(1);
                if self.ticks.is_multiple_of(HOUSEKEEPING_TICKS) {
                    if let Some(f) = HOUSEKEEPING.get() {
                        f();
                    }
                }
                if now > self.next_tick + TICK * 5 {
                    // Fell far behind (suspended host): resync rather than burst.
                    self.next_tick = now + TICK;
                }
            }
            while let Some(&Reverse((t, id))) = self.timers.peek() {
                if t > now {
                    break;
                }
                self.timers.pop();
                let Some(e) = self.peers.get_mut(&id) else {
                    continue;
                };
                if e.scheduled != Some(t) {
                    continue; // stale: the peer's deadline moved
                }
                e.scheduled = None;
                guarded(id, e, "timers", |p| p.handle_timeout(now));
                if !e.touched {
                    e.touched = true;
                    self.touched.push(id);
                }
            }
            if self.timers.len() > 4 * self.peers.len() + 64 {
                // Many stale entries (deadlines that kept moving): rebuild.
                self.timers = self
                    .peers
                    .iter()
                    .filter_map(|(id, e)| e.scheduled.map(|t| Reverse((t, *id))))
                    .collect();
            }
            for id in self.touched.drain(..) {
                if let Some(e) = self.peers.get_mut(&id) {
                    if e.touched {
                        e.touched = false;
                        flush(e);
                        reschedule(&mut self.timers, id, e);
                    }
                }
            }
        }
    }

    fn read_socket(&mut self, token: Token, now: Instant) {
        let Some(&id) = self.tokens.get(&token) else {
            return;
        };
        let Some(e) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((local, sock, _)) = e.sockets.iter().find(|(_, _, t)| *t == token) else {
            return;
        };
        let local = *local;
        if !e.touched {
            e.touched = true;
            self.touched.push(id);
        }
        loop {
            match sock.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let data = &self.buf[..n];
                    guarded_peer(id, &mut e.peer, "datagram", |p| {
                        p.handle_datagram(now, local, from, data)
                    });
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP port unreachable and friends: the peer vanished; ICE notices.
                Err(_) => break,
            }
        }
    }

    /// Close a call's sockets once it no longer needs them (RTCP ones
    /// after rtcp-mux or a WebRTC call; video ones when video is rejected
    /// or dropped), and bind a plain call's RTCP sockets at RTP port + 1 and
    /// its video sockets once it wants them (after the command that made it
    /// plain, before the next one, so an answer made after
    /// setRemoteDescription names them). They join the peer's sockets:
    /// read, sent from, counted and closed like the others.
    fn bind_rtcp(&mut self, id: u64) {
        let Some(e) = self.peers.get_mut(&id) else {
            return;
        };
        let mut unneeded = e.peer.unneeded_rtcp_sockets();
        unneeded.extend(e.peer.unneeded_video_sockets());
        if !unneeded.is_empty() {
            let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut e.sockets)
                .into_iter()
                .partition(|(a, _, _)| !unneeded.contains(a));
            e.sockets = keep;
            for (_, mut s, token) in gone {
                let _ = self.poll.registry().deregister(&mut s);
                self.tokens.remove(&token);
                OPEN_SOCKETS.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let mut reg = Registrar {
            poll: &self.poll,
            tokens: &mut self.tokens,
            next_token: &mut self.next_token,
            id,
        };
        let max = e.peer.port_range_max();
        if e.peer.wants_rtcp_sockets() {
            let rtp = e.peer.local_addrs().to_vec();
            let mut bound = Vec::new();
            for a in rtp {
                let Some(s) = super::sockets::bind_rtcp(a, max) else {
                    log::debug!(
                        "plain RTP: port {} is taken or outside portRange; RTCP stays on the RTP port",
                        a.port().wrapping_add(1)
                    );
                    continue;
                };
                bound.extend(reg.add(&mut e.sockets, s));
            }
            guarded_peer(id, &mut e.peer, "rtcp sockets", |p| {
                p.set_rtcp_sockets(bound)
            });
        }
        if let Some(with_rtcp) = e.peer.wants_video_sockets() {
            let (mut rtp, mut rtcp) = (Vec::new(), Vec::new());
            match super::sockets::bind_sockets(e.peer.config()) {
                Ok(socks) => {
                    for s in socks {
                        let Some(a) = reg.add(&mut e.sockets, s) else {
                            continue;
                        };
                        rtp.push(a);
                        if let Some(r) = with_rtcp
                            .then(|| super::sockets::bind_rtcp(a, max))
                            .flatten()
                        {
                            rtcp.extend(reg.add(&mut e.sockets, r));
                        }
                    }
                }
                Err(err) => log::warn!("plain RTP: no video socket ({err}); video is rejected"),
            }
            guarded_peer(id, &mut e.peer, "video sockets", |p| {
                p.set_video_sockets(rtp, rtcp)
            });
        }
    }

    /// Returns false when every handle is gone (the runtime is shutting down).
    fn drain_commands(&mut self, now: Instant) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(Command::Add {
                    id,
                    peer,
                    sockets,
                    sink,
                    snapshot,
                }) => {
                    let mut socks = Vec::new();
                    for s in sockets {
                        let local = match s.local_addr() {
                            Ok(a) => a,
                            Err(_) => continue,
                        };
                        let mut s = UdpSocket::from_std(s);
                        let token = Token(self.next_token);
                        self.next_token += 1;
                        if self
                            .poll
                            .registry()
                            .register(&mut s, token, Interest::READABLE)
                            .is_ok()
                        {
                            self.tokens.insert(token, id);
                        }
                        socks.push((local, s, token));
                    }
                    self.peers.insert(
                        id,
                        Entry {
                            peer,
                            sockets: socks,
                            sink,
                            snapshot,
                            dirty: true,
                            touched: true,
                            scheduled: None,
                        },
                    );
                    self.touched.push(id);
                    self.bind_rtcp(id);
                }
                Ok(Command::Op(id, op)) => match self.peers.get_mut(&id) {
                    Some(e) => {
                        // The binding catches panics inside `op` itself, so its
                        // promise always settles; this guard protects the shard.
                        let mut settle = None;
                        guarded_peer(id, &mut e.peer, "command", |p| settle = op(Some(p), now));
                        e.dirty = true;
                        e.touched = false;
                        flush(e);
                        reschedule(&mut self.timers, id, e);
                        if let Some(settle) = settle {
                            settle();
                        }
                        self.bind_rtcp(id);
                    }
                    None => {
                        if let Some(settle) = op(None, now) {
                            settle();
                        }
                    }
                },
                Ok(Command::Remove(id)) => {
                    if let Some(mut e) = self.peers.remove(&id) {
                        // close_at queues our RTCP BYE and DTLS close_notify;
                        // this flush sends them before the sockets go.
                        e.peer.close_at(now);
                        e.dirty = true;
                        flush(&mut e);
                        for (_, mut s, token) in e.sockets.drain(..) {
                            let _ = self.poll.registry().deregister(&mut s);
                            self.tokens.remove(&token);
                            OPEN_SOCKETS.fetch_sub(1, Ordering::Relaxed);
                        }
                        LIVE_PEERS.fetch_sub(1, Ordering::Relaxed);
                        self.load.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }
}

/// Registers a call's extra sockets with the shard's poll.
struct Registrar<'a> {
    poll: &'a Poll,
    tokens: &'a mut HashMap<Token, u64>,
    next_token: &'a mut usize,
    id: u64,
}

impl Registrar<'_> {
    /// Register `s` for reading and add it to `sockets` (counted in
    /// `openSockets`); its address, or None if it could not be.
    fn add(
        &mut self,
        sockets: &mut Vec<(SocketAddr, UdpSocket, Token)>,
        s: std::net::UdpSocket,
    ) -> Option<SocketAddr> {
        let local = s.local_addr().ok()?;
        let mut s = UdpSocket::from_std(s);
        let token = Token(*self.next_token);
        *self.next_token += 1;
        self.poll
            .registry()
            .register(&mut s, token, Interest::READABLE)
            .ok()?;
        self.tokens.insert(token, self.id);
        sockets.push((local, s, token));
        OPEN_SOCKETS.fetch_add(1, Ordering::Relaxed);
        Some(local)
    }
}

/// Run `f` on a peer; a panic fails and closes that peer (its JS side sees
/// `connectionstatechange` to `failed`, then `closed`) instead of killing the
/// shard and hanging every other call on it.
/// Log lines written meanwhile carry the connection id.
pub(super) fn guarded_peer(id: u64, peer: &mut Peer, what: &str, f: impl FnOnce(&mut Peer)) {
    crate::logger::with_conn(id, || guarded_inner(peer, what, f))
}

pub(super) fn guarded_inner(peer: &mut Peer, what: &str, f: impl FnOnce(&mut Peer)) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(peer)));
    if r.is_err() {
        log::error!("sipwire: internal panic during {what}; closing this connection");
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| peer.fail()));
    }
}

pub(super) fn guarded(id: u64, e: &mut Entry, what: &str, f: impl FnOnce(&mut Peer)) {
    guarded_peer(id, &mut e.peer, what, f);
}

/// Put the peer's next deadline in the heap if it changed.
pub(super) fn reschedule(timers: &mut BinaryHeap<Reverse<(Instant, u64)>>, id: u64, e: &mut Entry) {
    let d = e.peer.poll_timeout();
    if d != e.scheduled {
        if let Some(t) = d {
            timers.push(Reverse((t, id)));
        }
        e.scheduled = d;
    }
}

pub(super) fn flush(e: &mut Entry) {
    while let Some(t) = e.peer.poll_transmit() {
        let sock = e
            .sockets
            .iter()
            .find(|(a, _, _)| *a == t.local)
            .or_else(|| e.sockets.first());
        if let Some((_, s, _)) = sock {
            let _ = s.send_to(&t.data, t.remote);
        }
    }
    let mut pending = Vec::new();
    while let Some(ev) = e.peer.poll_event() {
        if !matches!(ev, PeerEvent::Media(_)) {
            e.dirty = true;
        }
        pending.push(ev);
    }
    if e.dirty {
        e.dirty = false;
        if let Ok(mut s) = e.snapshot.lock() {
            s.signaling_state = e.peer.signaling_state().as_str();
            s.ice_gathering_state = e.peer.ice_gathering_state();
            s.ice_connection_state = e.peer.ice_connection_state().to_string();
            s.connection_state = e.peer.connection_state().to_string();
            s.local_description = e.peer.local_description();
            s.remote_description = e.peer.remote_description();
            s.can_send_dtmf = e.peer.media().can_send_dtmf();
        }
    }
    for ev in pending {
        (e.sink)(ev);
    }
}
