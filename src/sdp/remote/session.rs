//! Session-level and connection-line hygiene: what rtc's strict parser needs of
//! `v=`/`o=`/`s=`/`t=`/`c=`/`b=` lines.

use super::fnv1a32;
use crate::sdp::error::SdpError;
use crate::sdp::parse::{Sdp, SdpLine};

/// Validate a `c=` value: `IN IP4|IP6 <address>`.
pub(super) fn check_connection(value: &str) -> Result<(), SdpError> {
    let f: Vec<&str> = value.split_whitespace().collect();
    if f.len() < 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
        return Err(SdpError::Parse(format!("malformed c= line `c={value}`")));
    }
    Ok(())
}

pub(super) fn connection_address(value: &str) -> Option<String> {
    value
        .split_whitespace()
        .nth(2)
        .map(|a| a.split('/').next().unwrap_or(a).to_string())
}

pub(super) fn valid_bandwidth(value: &str) -> bool {
    matches!(value.split_once(':'), Some((t, n)) if !t.is_empty() && !n.contains(':') && n.parse::<u64>().is_ok())
}

/// Clean session-level lines so rtc's strict parser accepts them.
pub(super) fn normalize_session(sdp: &mut Sdp) -> Result<(), SdpError> {
    let mut out: Vec<SdpLine> = Vec::new();
    let mut seen_o = false;
    let mut seen_s = false;
    let mut seen_t = false;
    let mut seen_v = false;
    for l in std::mem::take(&mut sdp.session) {
        match l.typ {
            'v' if !seen_v => {
                seen_v = true;
                out.push(l);
            }
            'o' if !seen_o => {
                seen_o = true;
                let f: Vec<&str> = l.value.split_whitespace().collect();
                if f.len() != 6 {
                    return Err(SdpError::Parse(format!(
                        "malformed o= line `o={}`",
                        l.value
                    )));
                }
                let id = f[1]
                    .parse::<u64>()
                    .unwrap_or_else(|_| u64::from(fnv1a32(f[1])));
                let ver = f[2]
                    .parse::<u64>()
                    .unwrap_or_else(|_| u64::from(fnv1a32(f[2])));
                let (nt, at) = if f[3] == "IN" && (f[4] == "IP4" || f[4] == "IP6") {
                    (f[3], f[4])
                } else {
                    ("IN", "IP4")
                };
                out.push(SdpLine::new(
                    'o',
                    format!("{} {id} {ver} {nt} {at} {}", f[0], f[5]),
                ));
            }
            's' if !seen_s => {
                seen_s = true;
                out.push(l);
            }
            't' => {
                let ok = {
                    let f: Vec<&str> = l.value.split_whitespace().collect();
                    f.len() == 2 && f.iter().all(|x| x.parse::<u64>().is_ok())
                };
                if !seen_t {
                    out.push(if ok { l } else { SdpLine::new('t', "0 0") });
                }
                seen_t = true;
            }
            'c' => {
                check_connection(&l.value)?;
                if !out.iter().any(|x| x.typ == 'c') {
                    out.push(l);
                }
            }
            'b' if valid_bandwidth(&l.value) => out.push(l),
            'i' | 'e' | 'p' | 'a' => out.push(l),
            // u= (rtc parses it as a URL), r=, z=, k=, invalid b=, duplicates, unknown types
            // k= may carry a key (RFC 8866 §5.12): never its value in a log.
            'k' => log::debug!("sdp: dropping session line k=<redacted>"),
            _ => log::debug!("sdp: dropping session line {}={}", l.typ, l.value),
        }
    }
    if !seen_o {
        return Err(SdpError::Parse("no o= line".to_string()));
    }
    if !seen_s {
        out.push(SdpLine::new('s', "-"));
    }
    if !seen_t {
        out.push(SdpLine::new('t', "0 0"));
    }
    sdp.session = out;
    Ok(())
}
