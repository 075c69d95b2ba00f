//! The I/O layer: a few threads ("shards", twice the cores unless
//! `SIPWIRE_IO_THREADS` says otherwise), each owning a set of peers and
//! their UDP sockets on one `mio` poll loop with one shared 20 ms media tick.
//! No thread or task per call. Commands arrive as closures over a channel
//! (with a `mio::Waker`); events leave through each peer's [`EventSink`].
//!
//! This is the only place in the core that reads the clock or touches sockets.
//!
//! Here: the runtime (placing peers on the least loaded shard) and the
//! [`PeerHandle`] the binding holds; [`event_loop`] is a shard's thread,
//! [`sockets`] binds a peer's UDP sockets, [`dns`] resolves STUN server names.
//! (Covered through Node: leak, ref-unref, stun, soak.)

use crate::config::PeerConfig;
use crate::delay::WallAnchor;
use crate::error::{Error, Result};
use crate::peer::{Description, Peer, PeerEvent};
use mio::net::UdpSocket;
use mio::{Poll, Token, Waker};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

mod dns;
mod event_loop;
mod sockets;

use dns::{peer_stun_hosts, resolve_in_background};
use event_loop::Shard;
use sockets::bind_sockets;

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
/// Open UDP sockets across all peers (for leak checks).
/// Run on every shard thread about once a second (see
/// [`set_housekeeping`]).
static HOUSEKEEPING: OnceLock<fn()> = OnceLock::new();

/// Have every shard thread call `f` about once a second, busy or idle. The
/// addon uses it to let its allocator return memory freed a while ago even
/// when no allocation would trigger that (an idle process after a burst of
/// calls). The first call wins.
pub fn set_housekeeping(f: fn()) {
    let _ = HOUSEKEEPING.set(f);
}

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

/// The process's one Instant-to-wall-clock mapping (read once): every peer
/// stamps and measures abs-send-time through it, so the mapping never jumps
/// with NTP slews, and two processes on one host differ only by the
/// microseconds between their two readings.
fn wall_anchor() -> WallAnchor {
    static ANCHOR: OnceLock<WallAnchor> = OnceLock::new();
    *ANCHOR.get_or_init(|| WallAnchor::new(Instant::now(), SystemTime::now()))
}
