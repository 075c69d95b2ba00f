//! The audio codecs a remote section offers: rtpmap/fmtp parsing and the filter
//! down to what sipwire supports.

use super::RemoteCodec;
use crate::sdp::error::SdpError;
use crate::sdp::parse::{Attributes, MediaSection};
use std::collections::HashMap;

/// Name, clock rate and channels of an RFC 3551 static payload type.
pub fn static_payload(pt: u8) -> Option<(&'static str, u32, u16)> {
    Some(match pt {
        0 => ("PCMU", 8000, 1),
        3 => ("GSM", 8000, 1),
        4 => ("G723", 8000, 1),
        5 => ("DVI4", 8000, 1),
        6 => ("DVI4", 16000, 1),
        7 => ("LPC", 8000, 1),
        8 => ("PCMA", 8000, 1),
        9 => ("G722", 8000, 1),
        10 => ("L16", 44100, 2),
        11 => ("L16", 44100, 1),
        12 => ("QCELP", 8000, 1),
        13 => ("CN", 8000, 1),
        14 => ("MPA", 90000, 1),
        15 => ("G728", 8000, 1),
        16 => ("DVI4", 11025, 1),
        17 => ("DVI4", 22050, 1),
        18 => ("G729", 8000, 1),
        _ => return None,
    })
}

/// Remove whitespace around `;` and `=` in fmtp parameters.
pub fn normalize_fmtp_params(params: &str) -> String {
    params
        .split(';')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
            None => p.trim().to_string(),
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(";")
}

struct CodecInfo {
    name: String,
    rate: u32,
    channels: Option<u16>,
}

fn parse_rtpmap(value: &str) -> Option<(u8, CodecInfo)> {
    let (pt, enc) = value.trim().split_once(char::is_whitespace)?;
    let pt: u8 = pt.parse().ok()?;
    let mut parts = enc.trim().split('/');
    let name = parts.next()?.trim().to_string();
    let rate: u32 = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    Some((
        pt,
        CodecInfo {
            name,
            rate,
            channels,
        },
    ))
}

/// Canonical (name, rate, channels) if sipwire supports the codec.
fn supported(c: &CodecInfo) -> Option<(&'static str, u32, u16)> {
    let ch = c.channels.unwrap_or(1);
    match (c.name.to_ascii_lowercase().as_str(), c.rate) {
        ("opus", 48000) if matches!(c.channels, None | Some(2)) => Some(("opus", 48000, 2)),
        ("pcmu", 8000) if ch == 1 => Some(("PCMU", 8000, 1)),
        ("pcma", 8000) if ch == 1 => Some(("PCMA", 8000, 1)),
        // RFC 3551 §4.5.2: G.722's RTP clock is 8000 Hz, its audio 16 kHz.
        ("g722", 8000) if ch == 1 => Some(("G722", 8000, 1)),
        ("g729", 8000) if ch == 1 => Some(("G729", 8000, 1)),
        ("telephone-event", r @ (8000 | 48000)) if ch == 1 => Some(("telephone-event", r, 1)),
        _ => None,
    }
}

/// The payload type an rtpmap/fmtp/rtcp-fb value refers to (`None` for `*`
/// or garbage).
fn pt_of(value: &str) -> Option<&str> {
    value.split_whitespace().next()
}

pub(super) fn filter_codecs(
    audio: &mut MediaSection,
    what: &str,
) -> Result<Vec<RemoteCodec>, SdpError> {
    let mut maps: HashMap<u8, CodecInfo> = HashMap::new();
    for v in audio.attrs("rtpmap") {
        if let Some((pt, info)) = parse_rtpmap(v) {
            maps.entry(pt).or_insert(info);
        }
    }
    let mut offered: Vec<String> = Vec::new();
    let mut kept: Vec<(u8, &'static str, u32, u16)> = Vec::new();
    let mut seen: Vec<u8> = Vec::new();
    for f in &audio.fmts {
        let Ok(pt) = f.parse::<u8>() else {
            offered.push(f.clone());
            continue;
        };
        if seen.contains(&pt) {
            continue;
        }
        seen.push(pt);
        let info = maps.get(&pt).map(|c| CodecInfo {
            name: c.name.clone(),
            rate: c.rate,
            channels: c.channels,
        });
        let info = info.or_else(|| {
            static_payload(pt).map(|(n, r, c)| CodecInfo {
                name: n.to_string(),
                rate: r,
                channels: (c != 1).then_some(c),
            })
        });
        let Some(info) = info else {
            offered.push(format!("PT {pt} (no rtpmap)"));
            continue;
        };
        offered.push(match info.channels {
            Some(c) => format!("{}/{}/{c}", info.name, info.rate),
            None => format!("{}/{}", info.name, info.rate),
        });
        if let Some((n, r, c)) = supported(&info) {
            kept.push((pt, n, r, c));
        }
    }
    if !kept.iter().any(|k| k.1 != "telephone-event") {
        let list = if offered.is_empty() {
            "no payload types".to_string()
        } else {
            offered.join(", ")
        };
        return Err(SdpError::NoCommonCodec(format!(
            "no common audio codec: {what} has {list}; sipwire supports opus/48000/2, G722/8000, PCMU/8000, PCMA/8000, G729/8000"
        )));
    }
    let keep_pt = |v: &str| -> bool {
        match pt_of(v) {
            Some("*") => true,
            Some(p) => p.parse::<u8>().is_ok_and(|p| kept.iter().any(|k| k.0 == p)),
            None => false,
        }
    };
    // Drop lines for removed payload types; rtpmap lines are re-added canonically.
    audio.lines.retain(|l| match l.attr_key() {
        Some("rtpmap") => false,
        Some("fmtp") | Some("rtcp-fb") => l.attr_value().is_some_and(keep_pt),
        _ => true,
    });
    // Normalise fmtp parameters.
    for l in audio.lines.iter_mut() {
        if l.is_attr("fmtp") {
            let v = l.attr_value().unwrap_or("").trim();
            let (pt, params) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            l.value = format!("fmtp:{pt} {}", normalize_fmtp_params(params));
        }
    }
    audio.fmts = kept.iter().map(|k| k.0.to_string()).collect();
    let mut codecs = Vec::new();
    for &(pt, name, rate, ch) in &kept {
        let enc = if name == "opus" {
            format!("{name}/{rate}/{ch}")
        } else {
            format!("{name}/{rate}")
        };
        audio.push_attr("rtpmap", Some(&format!("{pt} {enc}")));
        let fmtp = audio
            .attrs("fmtp")
            .into_iter()
            .find(|v| pt_of(v) == Some(&pt.to_string()))
            .map(|v| v.split_once(' ').map_or("", |(_, p)| p).to_string())
            .filter(|p| !p.is_empty());
        codecs.push(RemoteCodec {
            pt,
            name: name.to_string(),
            clock_rate: rate,
            channels: ch,
            fmtp,
        });
    }
    Ok(codecs)
}
