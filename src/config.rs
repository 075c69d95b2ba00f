//! Connection configuration, validated once at construction so that later
//! calls never fail on a bad setting.

use crate::audio::codec::CodecKind;
use crate::error::{Error, Result};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// One entry of `iceServers` (W3C `RTCIceServer`).
#[derive(Clone, Debug, Default)]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN username.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<String>,
}

/// W3C `RTCIceTransportPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IceTransportPolicy {
    /// Use every candidate type.
    #[default]
    All,
    /// Use relay candidates only (needs TURN, not supported yet: connections
    /// then gather nothing and the error says why).
    Relay,
}

/// Validated configuration of one peer connection.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// STUN servers given as IP literals (host:port).
    pub stun_servers: Vec<SocketAddr>,
    /// STUN servers given by name: resolved by the I/O layer off the JS thread
    /// (see `shard`), never during validation, so a constructor never waits on DNS.
    pub stun_hosts: Vec<StunHost>,
    /// TURN servers as given; accepted but relay gathering is not implemented yet.
    pub turn_servers: Vec<IceServer>,
    /// Candidate policy.
    pub ice_transport_policy: IceTransportPolicy,
    /// Inclusive UDP port range for media sockets; `None` = any ephemeral port.
    pub port_range: Option<(u16, u16)>,
    /// Local addresses to bind; empty = every non-loopback interface address
    /// (loopback when there is none).
    pub bind_addresses: Vec<IpAddr>,
    /// Codec preference for offers, most preferred first.
    pub codecs: Vec<CodecKind>,
    /// How long gathering may take before it is declared complete anyway.
    pub ice_gathering_timeout: Duration,
    /// Report `RtpTimeout` after this long without RTP while sendrecv; zero disables.
    pub rtp_timeout: Duration,
    /// Opus encoder complexity, 0 (cheapest) to 10.
    pub opus_complexity: i32,
    /// Negotiate abs-send-time, stamp every RTP packet we send and sample
    /// the one-way delay of every one received (see [`crate::delay`]).
    pub measure_one_way_delay: bool,
    /// The profile our offers use (`webrtc`, `rtp`, `sdes`); answers always
    /// take the offer's.
    pub media_profile: crate::sdp::plain::MediaProfile,
    /// Whether unencrypted media (RTP/AVP) may be offered or accepted.
    /// Default true: a plain-RTP offer comes from a peer that has no
    /// encryption at all, so refusing it only fails the call, and nothing
    /// here offers plain RTP unless `media_profile` says `rtp`.
    pub allow_unencrypted_media: bool,
    /// Video (receive and record, no transcoding); `None` answers any video
    /// section with port 0. See [`crate::video`].
    pub video: Option<crate::video::VideoConfig>,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            stun_servers: vec![],
            stun_hosts: vec![],
            turn_servers: vec![],
            ice_transport_policy: IceTransportPolicy::All,
            port_range: None,
            bind_addresses: vec![],
            // G.729 last: offered after everything a peer would rather have, and
            // accepted when a trunk offers it alone (see CodecKind::ALL).
            codecs: CodecKind::ALL.to_vec(),
            ice_gathering_timeout: Duration::from_millis(5000),
            rtp_timeout: Duration::from_secs(10),
            opus_complexity: crate::audio::codec::DEFAULT_OPUS_COMPLEXITY,
            measure_one_way_delay: false,
            media_profile: crate::sdp::plain::MediaProfile::WebRtc,
            allow_unencrypted_media: true,
            video: None,
        }
    }
}

/// Raw, unvalidated options as they arrive from JS.
#[derive(Clone, Debug, Default)]
pub struct PeerConfigInput {
    /// See [`PeerConfig`].
    pub ice_servers: Vec<IceServer>,
    /// `"all"` or `"relay"`.
    pub ice_transport_policy: Option<String>,
    /// Inclusive port range.
    pub port_range: Option<(u32, u32)>,
    /// IP literals.
    pub bind_addresses: Vec<String>,
    /// Codec names: `opus`, `pcmu`, `pcma` (case-insensitive).
    pub codecs: Vec<String>,
    /// Milliseconds; `0` means wait for every STUN answer (bounded by close()).
    pub ice_gathering_timeout_ms: Option<u32>,
    /// Milliseconds without RTP before `RtpTimeout`; `0` disables.
    pub rtp_timeout_ms: Option<u32>,
    /// Opus encoder complexity 0-10.
    pub opus_complexity: Option<u32>,
    /// See [`PeerConfig::measure_one_way_delay`]; default off.
    pub measure_one_way_delay: Option<bool>,
    /// `webrtc` (default), `rtp` or `sdes`.
    pub media_profile: Option<String>,
    /// See [`PeerConfig::allow_unencrypted_media`]; default true.
    pub allow_unencrypted_media: Option<bool>,
    /// `video: { codecs, direction }`; `None` = audio only.
    pub video: Option<(Vec<String>, Option<String>)>,
}

impl PeerConfigInput {
    /// Validate into a [`PeerConfig`].
    ///
    /// ```
    /// use sipwire::config::PeerConfigInput;
    /// let cfg = PeerConfigInput { codecs: vec!["PCMU".into()], ..Default::default() }
    ///     .validate().unwrap();
    /// assert_eq!(cfg.codecs.len(), 1);
    /// ```
    pub fn validate(self) -> Result<PeerConfig> {
        let mut cfg = PeerConfig::default();
        for server in &self.ice_servers {
            for url in &server.urls {
                let lower = url.to_ascii_lowercase();
                if let Some(rest) = lower.strip_prefix("stun:") {
                    match host_port(rest, 3478, url)? {
                        Target::Addr(a) => cfg.stun_servers.push(a),
                        Target::Name(host) => cfg.stun_hosts.push(host),
                    }
                } else if lower.starts_with("turn:") || lower.starts_with("turns:") {
                    if server.username.is_none() || server.credential.is_none() {
                        return Err(Error::InvalidArgument(format!(
                            "TURN server {url} needs username and credential"
                        )));
                    }
                    log::warn!(
                        "TURN server {url} accepted, but relay candidates are not supported yet"
                    );
                    cfg.turn_servers.push(server.clone());
                } else if lower.starts_with("stuns:") {
                    return Err(Error::Unsupported(format!(
                        "{url}: stuns (STUN over TLS) is not supported"
                    )));
                } else {
                    return Err(Error::InvalidArgument(format!(
                        "ICE server URL {url:?} must start with stun:, turn: or turns:"
                    )));
                }
            }
        }
        cfg.ice_transport_policy = match self.ice_transport_policy.as_deref() {
            None | Some("all") => IceTransportPolicy::All,
            Some("relay") => IceTransportPolicy::Relay,
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "iceTransportPolicy must be \"all\" or \"relay\", got {other:?}"
                )))
            }
        };
        if let Some((min, max)) = self.port_range {
            if min == 0 || max > 65535 || min > max {
                return Err(Error::InvalidArgument(format!(
                    "portRange {min}-{max} must satisfy 1 <= min <= max <= 65535"
                )));
            }
            cfg.port_range = Some((min as u16, max as u16));
        }
        for addr in &self.bind_addresses {
            let ip: IpAddr = addr.parse().map_err(|_| {
                Error::InvalidArgument(format!("bindAddresses entry {addr:?} is not an IP address"))
            })?;
            if ip.is_unspecified() {
                return Err(Error::InvalidArgument(format!(
                    "bindAddresses entry {addr} is a wildcard; give concrete addresses (a wildcard bind cannot name a candidate)"
                )));
            }
            cfg.bind_addresses.push(ip);
        }
        if !self.codecs.is_empty() {
            cfg.codecs.clear();
            for name in &self.codecs {
                let kind = CodecKind::from_config_name(name).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "unknown codec {name:?}; supported: opus, g722, pcmu, pcma, g729"
                    ))
                })?;
                if !cfg.codecs.contains(&kind) {
                    cfg.codecs.push(kind);
                }
            }
        }
        if let Some(ms) = self.ice_gathering_timeout_ms {
            // 0 = unbounded; still ended by close().
            cfg.ice_gathering_timeout = if ms == 0 {
                Duration::from_secs(24 * 3600)
            } else {
                Duration::from_millis(ms as u64)
            };
        }
        if let Some(c) = self.opus_complexity {
            if c > 10 {
                return Err(Error::InvalidArgument(format!(
                    "opusComplexity must be 0-10, got {c}"
                )));
            }
            cfg.opus_complexity = c as i32;
        }
        if let Some(ms) = self.rtp_timeout_ms {
            cfg.rtp_timeout = Duration::from_millis(ms as u64);
        }
        cfg.measure_one_way_delay = self.measure_one_way_delay.unwrap_or(false);
        cfg.allow_unencrypted_media = self.allow_unencrypted_media.unwrap_or(true);
        if let Some(p) = self.media_profile.as_deref() {
            cfg.media_profile = crate::sdp::plain::MediaProfile::parse(p).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "mediaProfile must be \"webrtc\", \"rtp\" or \"sdes\", got {p:?}"
                ))
            })?;
        }
        if cfg.media_profile == crate::sdp::plain::MediaProfile::Rtp && !cfg.allow_unencrypted_media
        {
            return Err(Error::InvalidArgument(
                "mediaProfile \"rtp\" offers unencrypted media, which allowUnencryptedMedia: false forbids".into(),
            ));
        }
        if let Some((codecs, direction)) = &self.video {
            cfg.video = Some(crate::video::VideoConfig::from_input(
                codecs,
                direction.as_deref(),
            )?);
        }
        Ok(cfg)
    }
}

/// A STUN server to resolve by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunHost {
    /// `host:port`, as `ToSocketAddrs` takes it.
    pub host_port: String,
    /// The URL as configured, for messages.
    pub url: String,
}

enum Target {
    Addr(SocketAddr),
    Name(StunHost),
}

/// Split `host[:port]`; IP literals become addresses, names wait for DNS.
fn host_port(rest: &str, default_port: u16, url: &str) -> Result<Target> {
    let rest = rest.split('?').next().unwrap_or(rest);
    let with_port = if rest.starts_with('[') || rest.matches(':').count() == 1 {
        rest.to_string()
    } else if rest.parse::<IpAddr>().is_ok() && rest.contains(':') {
        format!("[{rest}]:{default_port}")
    } else {
        format!("{rest}:{default_port}")
    };
    if let Ok(a) = with_port.parse::<SocketAddr>() {
        return Ok(Target::Addr(a));
    }
    let (host, port) = with_port
        .rsplit_once(':')
        .ok_or_else(|| Error::InvalidArgument(format!("bad ICE server URL {url}")))?;
    if host.is_empty() || port.parse::<u16>().is_err() || host.contains(['/', ' ', '@']) {
        return Err(Error::InvalidArgument(format!("bad ICE server URL {url}")));
    }
    Ok(Target::Name(StunHost {
        host_port: with_port.clone(),
        url: url.to_string(),
    }))
}

/// Addresses to bind when the configuration names none.
pub fn default_bind_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback() && i.ip().is_ipv4())
        .map(|i| i.ip())
        .collect();
    if out.is_empty() {
        out.push(IpAddr::from([127, 0, 0, 1]));
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_values_with_reasons() {
        let bad = PeerConfigInput {
            port_range: Some((5000, 4000)),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().code(), "ERR_INVALID_ARG");
        let bad = PeerConfigInput {
            codecs: vec!["amr".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("amr"));
        let ok = PeerConfigInput {
            codecs: vec!["G722".into(), "g729".into(), "g722".into()],
            ..Default::default()
        };
        assert_eq!(
            ok.validate().unwrap().codecs,
            vec![CodecKind::G722, CodecKind::G729]
        );
        let bad = PeerConfigInput {
            bind_addresses: vec!["0.0.0.0".into()],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn accepts_stun_and_turn() {
        let cfg = PeerConfigInput {
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:127.0.0.1:3478".into()],
                    ..Default::default()
                },
                IceServer {
                    urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
                    username: Some("u".into()),
                    credential: Some("p".into()),
                },
            ],
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            cfg.stun_servers,
            vec!["127.0.0.1:3478".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(cfg.turn_servers.len(), 1);
    }

    #[test]
    fn stun_names_are_kept_for_the_io_layer_not_resolved() {
        let cfg = PeerConfigInput {
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.example.invalid".into(), "stun:[::1]:3479".into()],
                ..Default::default()
            }],
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            cfg.stun_servers,
            vec!["[::1]:3479".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            cfg.stun_hosts,
            vec![StunHost {
                host_port: "stun.example.invalid:3478".into(),
                url: "stun:stun.example.invalid".into()
            }]
        );
        let bad = PeerConfigInput {
            ice_servers: vec![IceServer {
                urls: vec!["stun:host:notaport".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().code(), "ERR_INVALID_ARG");
    }
}
