//! Binding a peer's UDP sockets, within `portRange` when one is set.

use crate::config::PeerConfig;
use crate::error::{Error, Result};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_PORT: AtomicUsize = AtomicUsize::new(0);

pub(super) fn bind_sockets(cfg: &PeerConfig) -> Result<Vec<std::net::UdpSocket>> {
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
