//! The I/O layer: a few threads ("shards", twice the cores unless
//! `SIPWIRE_IO_THREADS` says otherwise), each owning a set of peers and
//! their UDP sockets on one `mio` poll loop with one shared 20 ms media tick.
//! No thread or task per call. Commands arrive as closures over a channel
//! (with a `mio::Waker`); events leave through each peer's [`EventSink`].
//!
//! This is the only place in the core that reads the clock or touches sockets.
//!
//! Over 600 lines, not split yet: the loop, the placement of peers on
//! shards and the port-range binds would part into `runtime`, `sockets` and
//! the loop, but this file has no tests of its own to keep that move safe
//! (it is covered through Node: leak, ref-unref, stun, soak).

use crate::config::PeerConfig;
use crate::delay::WallAnchor;
use crate::error::{Error, Result};
use crate::peer::{Description, Peer, PeerEvent};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Media clock period.
pub const TICK: Duration = Duration::from_millis(20);
const WAKER: Token = Token(usize::MAX);

/// Receives a peer's events on its shard thread; must only hand them off.
pub type EventSink = Box<dyn FnMut(PeerEvent) + Send>;
/// Settles a JS promise; run after the snapshot reflects the op's effect, so
/// code awaiting the promise reads the new state.
pub type Settle = Box<dyn FnOnce() + Send>;
/// Work run on the shard thread with the peer (`None` once it is gone).
pub type Op = Box<dyn FnOnce(Option<&mut Peer>, Instant) -> Option<Settle> + Send>;

/// What synchronous getters read: updated on the shard before events are
/// dispatched, so a handler always sees the state its event announced.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// W3C signalingState.
    pub signaling_state: &'static str,
    /// W3C iceGatheringState.
    pub ice_gathering_state: &'static str,
    /// W3C iceConnectionState.
    pub ice_connection_state: String,
    /// W3C connectionState.
    pub connection_state: String,
    /// W3C localDescription.
    pub local_description: Option<Description>,
    /// W3C remoteDescription.
    pub remote_description: Option<Description>,
    /// True when RFC 4733 DTMF can be sent now (negotiated, direction sends).
    pub can_send_dtmf: bool,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            signaling_state: "stable",
            ice_gathering_state: "new",
            ice_connection_state: "new".into(),
            connection_state: "new".into(),
            local_description: None,
            remote_description: None,
            can_send_dtmf: false,
        }
    }
}

enum Command {
    Add {
        id: u64,
        peer: Box<Peer>,
        sockets: Vec<std::net::UdpSocket>,
        sink: EventSink,
        snapshot: Arc<Mutex<Snapshot>>,
    },
    Op(u64, Op),
    Remove(u64),
}

struct Entry {
    peer: Box<Peer>,
    sockets: Vec<(SocketAddr, UdpSocket, Token)>,
    sink: EventSink,
    snapshot: Arc<Mutex<Snapshot>>,
    /// Snapshot needs refreshing.
    dirty: bool,
    /// Got input this loop turn: its outputs must be drained. Untouched peers
    /// are skipped, which keeps a loop turn from costing O(calls) rtc calls.
    touched: bool,
    /// The deadline this peer has in the shard's timer heap.
    scheduled: Option<Instant>,
}

/// Handle to a peer living on a shard. Dropping it (or a clone) does not
/// close the peer: call [`PeerHandle::close`].
#[derive(Clone)]
pub struct PeerHandle {
    id: u64,
    shard: Arc<ShardHandle>,
    snapshot: Arc<Mutex<Snapshot>>,
}

struct ShardHandle {
    tx: Mutex<Sender<Command>>,
    waker: Waker,
    peers: Arc<AtomicUsize>,
}

impl ShardHandle {
    fn send(&self, c: Command) -> bool {
        let ok = self.tx.lock().map(|tx| tx.send(c).is_ok()).unwrap_or(false);
        let _ = self.waker.wake();
        ok
    }
}

struct Runtime {
    shards: Vec<Arc<ShardHandle>>,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_PORT: AtomicUsize = AtomicUsize::new(0);
/// Open UDP sockets across all peers (for leak checks).
pub static OPEN_SOCKETS: AtomicUsize = AtomicUsize::new(0);
/// Live peers across all shards (for leak checks).
pub static LIVE_PEERS: AtomicUsize = AtomicUsize::new(0);

fn runtime() -> Result<&'static Runtime> {
    if let Some(r) = RUNTIME.get() {
        return Ok(r);
    }
    // Twice the cores by default: with more shards than cores, a shard busy
    // with its media tick delays fewer peers' commands, and the kernel
    // interleaves call setup with running calls. Measured on 2 cores, 50
    // setups in flight: setup median 39-42 -> 25-31 ms at 100 calls, 63-89
    // -> 45-49 ms at 1000, for ~3% more CPU. SIPWIRE_IO_THREADS overrides.
    let n = std::env::var("SIPWIRE_IO_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| {
            2 * std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, 16);
    let mut shards = Vec::new();
    for i in 0..n {
        shards.push(spawn_shard(i)?);
    }
    let _ = RUNTIME.set(Runtime { shards });
    RUNTIME
        .get()
        .ok_or_else(|| Error::Rtc("runtime init".into()))
}

fn spawn_shard(index: usize) -> Result<Arc<ShardHandle>> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let (tx, rx) = channel();
    let load = Arc::new(AtomicUsize::new(0));
    let handle = Arc::new(ShardHandle {
        tx: Mutex::new(tx),
        waker,
        peers: load.clone(),
    });
    std::thread::Builder::new()
        .name(format!("sipwire-io-{index}"))
        .spawn(move || Shard::new(poll, rx, load).run())?;
    Ok(handle)
}

fn bind_sockets(cfg: &PeerConfig) -> Result<Vec<std::net::UdpSocket>> {
    let addrs: Vec<IpAddr> = if cfg.bind_addresses.is_empty() {
        crate::config::default_bind_addresses()
    } else {
        cfg.bind_addresses.clone()
    };
    let mut out = Vec::new();
    for ip in addrs {
        let sock = match cfg.port_range {
            None => std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?,
            Some((min, max)) => {
                let span = (max - min) as usize + 1;
                let start = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
                let mut found = None;
                for k in 0..span {
                    let port = min + ((start + k) % span) as u16;
                    if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(ip, port)) {
                        found = Some(s);
                        break;
                    }
                }
                found.ok_or_else(|| {
                    Error::Io(std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        format!("no free UDP port on {ip} in portRange {min}-{max}"),
                    ))
                })?
            }
        };
        sock.set_nonblocking(true)?;
        out.push(sock);
    }
    Ok(out)
}

impl PeerHandle {
    /// Bind sockets (synchronously, so errors surface at construction) and
    /// place a new peer on the least loaded shard.
    /// `make_sink` gets the connection's id (unique in the process), so
    /// one event channel can serve every connection.
    pub fn create(cfg: PeerConfig, make_sink: impl FnOnce(u64) -> EventSink) -> Result<PeerHandle> {
        let rt = runtime()?;
        let sockets = bind_sockets(&cfg)?;
        let locals = sockets
            .iter()
            .map(|s| s.local_addr())
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut peer = Box::new(Peer::new(cfg, locals, Instant::now()));
        peer.set_wall_anchor(wall_anchor());
        let shard = rt
            .shards
            .iter()
            .min_by_key(|s| s.peers.load(Ordering::Relaxed))
            .cloned()
            .ok_or_else(|| Error::Rtc("no shard".into()))?;
        shard.peers.fetch_add(1, Ordering::Relaxed);
        OPEN_SOCKETS.fetch_add(sockets.len(), Ordering::Relaxed);
        LIVE_PEERS.fetch_add(1, Ordering::Relaxed);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let stun_hosts = peer_stun_hosts(&peer);
        let sink = make_sink(id);
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        shard.send(Command::Add {
            id,
            peer,
            sockets,
            sink,
            snapshot: snapshot.clone(),
        });
        if !stun_hosts.is_empty() {
            resolve_in_background(id, shard.clone(), stun_hosts);
        }
        Ok(PeerHandle {
            id,
            shard,
            snapshot,
        })
    }

    /// The connection's id, as given to `make_sink`.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Run `op` on the shard thread with this peer.
    pub fn with(&self, op: Op) {
        if let Err(op) = self.try_send(op) {
            if let Some(settle) = op(None, Instant::now()) {
                settle();
            }
        }
    }

    fn try_send(&self, op: Op) -> std::result::Result<(), Op> {
        let tx = match self.shard.tx.lock() {
            Ok(tx) => tx,
            Err(_) => return Err(op),
        };
        match tx.send(Command::Op(self.id, op)) {
            Ok(()) => {
                let _ = self.shard.waker.wake();
                Ok(())
            }
            Err(std::sync::mpsc::SendError(Command::Op(_, op))) => Err(op),
            Err(_) => Ok(()),
        }
    }

    /// Close the peer and free its sockets. Idempotent.
    pub fn close(&self) {
        self.shard.send(Command::Remove(self.id));
    }

    /// Latest state for synchronous getters.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn peer_stun_hosts(peer: &Peer) -> Vec<crate::config::StunHost> {
    peer.config().stun_hosts.clone()
}

/// `host:port` -> when it was resolved, and to what.
type DnsCache = HashMap<String, (Instant, Vec<SocketAddr>)>;

/// How long a resolved (or failed) STUN server name is reused.
const DNS_TTL: Duration = Duration::from_secs(60);

/// Resolve STUN server names on a short-lived thread of their own (DNS is
/// blocking in std, and neither the JS thread nor a shard may wait on it),
/// then hand each result to the peer on its shard.
fn resolve_in_background(id: u64, shard: Arc<ShardHandle>, hosts: Vec<crate::config::StunHost>) {
    static CACHE: OnceLock<Mutex<DnsCache>> = OnceLock::new();
    let run = move || {
        for h in hosts {
            let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
            let cached = cache
                .lock()
                .ok()
                .and_then(|c| c.get(&h.host_port).cloned())
                .filter(|(at, _)| at.elapsed() < DNS_TTL)
                .map(|(_, a)| a);
            let addrs = cached.unwrap_or_else(|| {
                use std::net::ToSocketAddrs;
                let a: Vec<SocketAddr> = h
                    .host_port
                    .to_socket_addrs()
                    .map(|it| it.collect())
                    .unwrap_or_default();
                if let Ok(mut c) = cache.lock() {
                    c.insert(h.host_port.clone(), (Instant::now(), a.clone()));
                }
                a
            });
            let url = h.url;
            shard.send(Command::Op(
                id,
                Box::new(move |peer, now| {
                    if let Some(p) = peer {
                        p.ice_server_resolved(now, &url, &addrs);
                    }
                    None
                }),
            ));
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("sipwire-dns".into())
        .spawn(run)
    {
        log::error!("cannot start a DNS thread: {e}");
    }
}

/// The process's one Instant-to-wall-clock mapping (read once): every peer
/// stamps and measures abs-send-time through it, so the mapping never jumps
/// with NTP slews, and two processes on one host differ only by the
/// microseconds between their two readings.
fn wall_anchor() -> WallAnchor {
    static ANCHOR: OnceLock<WallAnchor> = OnceLock::new();
    *ANCHOR.get_or_init(|| WallAnchor::new(Instant::now(), SystemTime::now()))
}

struct Shard {
    poll: Poll,
    rx: Receiver<Command>,
    peers: HashMap<u64, Entry>,
    tokens: HashMap<Token, (u64, usize)>,
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
}

impl Shard {
    fn new(poll: Poll, rx: Receiver<Command>, load: Arc<AtomicUsize>) -> Self {
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
        }
    }

    fn run(mut self) {
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
        let Some(&(id, idx)) = self.tokens.get(&token) else {
            return;
        };
        let Some(e) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((local, sock, _)) = e.sockets.get(idx) else {
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
                    for (i, s) in sockets.into_iter().enumerate() {
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
                            self.tokens.insert(token, (id, i));
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

/// Run `f` on a peer; a panic fails and closes that peer (its JS side sees
/// `connectionstatechange` to `failed`, then `closed`) instead of killing the
/// shard and hanging every other call on it.
/// Log lines written meanwhile carry the connection id.
fn guarded_peer(id: u64, peer: &mut Peer, what: &str, f: impl FnOnce(&mut Peer)) {
    crate::logger::with_conn(id, || guarded_inner(peer, what, f))
}

fn guarded_inner(peer: &mut Peer, what: &str, f: impl FnOnce(&mut Peer)) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(peer)));
    if r.is_err() {
        log::error!("sipwire: internal panic during {what}; closing this connection");
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| peer.fail()));
    }
}

fn guarded(id: u64, e: &mut Entry, what: &str, f: impl FnOnce(&mut Peer)) {
    guarded_peer(id, &mut e.peer, what, f);
}

/// Put the peer's next deadline in the heap if it changed.
fn reschedule(timers: &mut BinaryHeap<Reverse<(Instant, u64)>>, id: u64, e: &mut Entry) {
    let d = e.peer.poll_timeout();
    if d != e.scheduled {
        if let Some(t) = d {
            timers.push(Reverse((t, id)));
        }
        e.scheduled = d;
    }
}

fn flush(e: &mut Entry) {
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
