//! Native resource counters.

use crate::shard::{LIVE_PEERS, OPEN_SOCKETS};
use napi_derive::napi;

/// Native resource counters, for leak checks in tests and health endpoints.
#[napi(object)]
pub struct NativeResources {
    /// UDP sockets currently open.
    pub open_sockets: u32,
    /// Peer connections not yet closed.
    pub live_peers: u32,
    /// Graph ports alive: two per bridge, one per conference participant.
    pub live_links: u32,
}

/// Current native resource counters.
#[napi]
pub fn native_resources() -> NativeResources {
    NativeResources {
        open_sockets: OPEN_SOCKETS.load(std::sync::atomic::Ordering::Relaxed) as u32,
        live_peers: LIVE_PEERS.load(std::sync::atomic::Ordering::Relaxed) as u32,
        live_links: crate::graph::live_ports() as u32,
    }
}
