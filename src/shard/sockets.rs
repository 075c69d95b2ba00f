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
                let start = NEXT_PORT.fetch_add(2, Ordering::Relaxed);
                let mut found = None;
                // Even ports first (RFC 3550 §11: RTP even, RTCP at RTP + 1,
                // which plain calls bind later); odd ones only when every
                // even port is taken, so the range's capacity is unchanged.
                'passes: for parity in [0, 1] {
                    for k in 0..span {
                        let port = min + ((start + k) % span) as u16;
                        if port % 2 != parity {
                            continue;
                        }
                        if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(ip, port)) {
                            found = Some(s);
                            break 'passes;
                        }
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

/// The RTCP socket of a plain call at its RTP port + 1 (RFC 3550 §11), if
/// that port is free and within `portRange` (`max`). None is not an error:
/// RTCP is then taken on the RTP socket, which `a=rtcp` names.
pub(super) fn bind_rtcp(rtp: SocketAddr, max: Option<u16>) -> Option<std::net::UdpSocket> {
    let port = rtp.port().checked_add(1)?;
    if max.is_some_and(|m| port > m) {
        return None;
    }
    let s = std::net::UdpSocket::bind(SocketAddr::new(rtp.ip(), port)).ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_ports_are_even_first_and_rtcp_takes_port_plus_one_within_the_range() {
        let localhost: IpAddr = [127, 0, 0, 1].into();
        // Odd ports only once the even ones are taken: capacity is unchanged.
        let cfg = PeerConfig {
            bind_addresses: vec![localhost],
            port_range: Some((47100, 47103)),
            ..Default::default()
        };
        let a = bind_sockets(&cfg).unwrap().remove(0);
        let b = bind_sockets(&cfg).unwrap().remove(0);
        let mut ports = [
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        ];
        ports.sort_unstable();
        assert_eq!(ports, [47100, 47102]);
        let c = bind_sockets(&cfg).unwrap().remove(0);
        assert_eq!(c.local_addr().unwrap().port() % 2, 1);
        drop(c);
        // RTCP at RTP + 1, never past the range's end, None when taken.
        let at = |p: u16| SocketAddr::new(localhost, p);
        let rtcp = bind_rtcp(at(47100), Some(47103)).unwrap();
        assert_eq!(rtcp.local_addr().unwrap().port(), 47101);
        assert!(bind_rtcp(at(47100), Some(47103)).is_none(), "taken");
        assert!(
            bind_rtcp(at(47103), Some(47103)).is_none(),
            "past the range"
        );
        assert!(bind_rtcp(at(65535), None).is_none());
    }
}
