//! STUN server names resolved off every latency-sensitive thread, with a
//! process-wide cache.

use super::{Command, ShardHandle};
use crate::peer::Peer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub(super) fn peer_stun_hosts(peer: &Peer) -> Vec<crate::config::StunHost> {
    peer.config().stun_hosts.clone()
}

/// `host:port` -> when it was resolved, and to what.
type DnsCache = HashMap<String, (Instant, Vec<SocketAddr>)>;

/// How long a resolved (or failed) STUN server name is reused.
const DNS_TTL: Duration = Duration::from_secs(60);

/// Resolve STUN server names on a short-lived thread of their own (DNS is
/// blocking in std, and neither the JS thread nor a shard may wait on it),
/// then hand each result to the peer on its shard.
pub(super) fn resolve_in_background(
    id: u64,
    shard: Arc<ShardHandle>,
    hosts: Vec<crate::config::StunHost>,
) {
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
