//! Rewriting of local SDP (produced by rtc) before it is sent to a SIP peer.
//!
//! About half of this file is tests against real rtc output; the rewrite
//! itself is one pass over one SDP and stays together.

use std::net::{IpAddr, SocketAddr};

use super::parse::{to_crlf, Attributes, MediaSection, Sdp, SdpLine};
use super::{Direction, RejectedSection, Setup};

/// What [`rewrite_local`] should change in a local SDP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalRewrite {
    /// Full candidate values without `a=`, e.g.
    /// `candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host`. They replace
    /// every candidate in the audio section.
    pub candidates: Vec<String>,
    /// Append `a=end-of-candidates` after the candidates.
    pub end_of_candidates: bool,
    /// Sets the audio m-line port, `c=` lines and `a=rtcp`.
    pub default_addr: Option<SocketAddr>,
    /// Replaces the audio section's direction attribute.
    pub direction: Option<Direction>,
    /// Replaces `a=setup`.
    pub setup: Option<Setup>,
    /// Sections to put back (port 0) at their original indices.
    pub rejected_sections: Vec<RejectedSection>,
    /// Remove `a=group:BUNDLE`.
    pub strip_bundle: bool,
    /// Keep only one telephone-event payload type per clock rate.
    pub dedupe_telephone_event: bool,
}

fn candidate_value(c: &str) -> &str {
    let c = c.trim();
    let c = c.strip_prefix("a=").unwrap_or(c);
    c.strip_prefix("candidate:").unwrap_or(c)
}

fn conn_value(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("IN IP6 {v6}"),
    }
}

fn remove_directions(m: &mut MediaSection) {
    m.lines
        .retain(|l| l.attr_key().is_none_or(|k| Direction::parse(k).is_none()));
}

fn is_bundle_group(l: &SdpLine) -> bool {
    l.is_attr("group")
        && l.attr_value()
            .is_some_and(|v| v.trim_start().to_ascii_uppercase().starts_with("BUNDLE"))
}

/// Keep one telephone-event PT per clock rate, drop duplicate fmts and
/// duplicate identical lines.
fn dedupe_telephone_event(m: &mut MediaSection) {
    let mut rates: Vec<u32> = Vec::new();
    let mut drop: Vec<String> = Vec::new();
    let mut fmts: Vec<String> = Vec::new();
    for f in &m.fmts {
        if fmts.contains(f) {
            continue;
        }
        let rate = m
            .attrs("rtpmap")
            .into_iter()
            .filter_map(|v| v.split_once(char::is_whitespace))
            .find(|(pt, _)| pt == f)
            .and_then(|(_, enc)| {
                let mut it = enc.trim().split('/');
                let name = it.next()?;
                if !name.eq_ignore_ascii_case("telephone-event") {
                    return None;
                }
                it.next()?.trim().parse::<u32>().ok()
            });
        if let Some(r) = rate {
            if rates.contains(&r) {
                drop.push(f.clone());
                continue;
            }
            rates.push(r);
        }
        fmts.push(f.clone());
    }
    m.fmts = fmts;
    let mut seen: Vec<SdpLine> = Vec::new();
    m.lines.retain(|l| {
        let refers_to_dropped = matches!(l.attr_key(), Some("rtpmap" | "fmtp" | "rtcp-fb"))
            && l.attr_value()
                .and_then(|v| v.split_whitespace().next())
                .is_some_and(|pt| drop.iter().any(|d| d == pt));
        if refers_to_dropped {
            return false;
        }
        if matches!(l.attr_key(), Some("rtpmap" | "fmtp" | "rtcp-fb")) {
            if seen.contains(l) {
                return false;
            }
            seen.push(l.clone());
        }
        true
    });
}

fn rejected_to_section(r: &RejectedSection) -> MediaSection {
    let mut fmts: Vec<String> = r.fmt.split_whitespace().map(str::to_string).collect();
    if fmts.is_empty() {
        fmts.push("0".to_string());
    }
    let media = if r.media.trim().is_empty() {
        "application".to_string()
    } else {
        r.media.clone()
    };
    let proto = if r.proto.trim().is_empty() || r.proto.split('/').any(str::is_empty) {
        "RTP/AVP".to_string()
    } else {
        r.proto.clone()
    };
    let mut lines = vec![SdpLine::new('c', "IN IP4 0.0.0.0")];
    if let Some(mid) = r.mid.as_deref().filter(|m| !m.trim().is_empty()) {
        lines.push(SdpLine::attr("mid", Some(mid)));
    }
    lines.push(SdpLine::attr("inactive", None));
    MediaSection {
        media,
        port: "0".to_string(),
        proto,
        fmts,
        lines,
    }
}

/// Rewrite a local (rtc-generated) SDP for a SIP peer. See [`LocalRewrite`]
/// for what changes. Unparsable input is returned with only its line ends
/// normalised. Output is CRLF, ending with CRLF.
pub fn rewrite_local(sdp: &str, opts: &LocalRewrite) -> String {
    let mut doc = match Sdp::parse(sdp) {
        Ok(d) => d,
        Err(e) => {
            log::warn!("sdp: cannot rewrite local SDP ({e}); sending it unchanged");
            return to_crlf(sdp);
        }
    };
    if let Some(i) = doc.first_audio() {
        let has_session_c = doc.session.iter().any(|l| l.typ == 'c');
        let m = &mut doc.media[i];
        // Candidates.
        let mut lines: Vec<SdpLine> = std::mem::take(&mut m.lines)
            .into_iter()
            .filter(|l| !l.is_attr("candidate") && !l.is_attr("end-of-candidates"))
            .collect();
        for c in &opts.candidates {
            let v = candidate_value(c);
            if !v.is_empty() {
                lines.push(SdpLine::attr("candidate", Some(v)));
            }
        }
        if opts.end_of_candidates {
            lines.push(SdpLine::attr("end-of-candidates", None));
        }
        m.lines = lines;
        // Default address.
        if let Some(addr) = opts.default_addr {
            m.port = addr.port().to_string();
            let c = conn_value(addr.ip());
            match m.lines.iter_mut().find(|l| l.typ == 'c') {
                Some(l) => l.value = c.clone(),
                None => m.lines.push(SdpLine::new('c', c.clone())),
            }
            if m.has_attr("rtcp") {
                let v = format!("{} {}", addr.port(), c);
                m.set_attr("rtcp", Some(&v));
            }
            if has_session_c {
                for l in doc.session.iter_mut().filter(|l| l.typ == 'c') {
                    l.value = c.clone();
                }
            }
        }
        let m = &mut doc.media[i];
        if let Some(d) = opts.direction {
            remove_directions(m);
            m.push_attr(d.as_str(), None);
        }
        if let Some(s) = opts.setup {
            m.set_attr("setup", Some(s.as_str()));
        }
        if opts.dedupe_telephone_event {
            dedupe_telephone_event(m);
        }
        super::annexb::declare_annexb_no(m);
    }
    if opts.strip_bundle {
        doc.session.retain(|l| !is_bundle_group(l));
    }
    if !opts.rejected_sections.is_empty() {
        // Idempotent: the text may be one we rewrote before (an answer passed
        // back to setLocalDescription, then read as localDescription), which
        // already carries the rejected sections. Ours is the only non-zero
        // port, so dropping every port-0 section first answers each offered
        // section exactly once (RFC 3264 §6).
        doc.media.retain(|m| m.port_number() != 0);
    }
    let mut rejected: Vec<&RejectedSection> = opts.rejected_sections.iter().collect();
    rejected.sort_by_key(|r| r.index);
    for r in rejected {
        let at = r.index.min(doc.media.len());
        doc.media.insert(at, rejected_to_section(r));
    }
    doc.to_sdp_string()
}

/// Pick the default candidate address for `c=`/m-line: the highest-priority
/// component-1 UDP candidate, preferring host candidates. Accepts values with
/// or without `a=` / `candidate:` prefixes. `None` if none parse.
pub fn default_candidate(candidates: &[String]) -> Option<SocketAddr> {
    candidates
        .iter()
        .filter_map(|c| {
            let f: Vec<&str> = candidate_value(c).split_whitespace().collect();
            if f.len() < 8 || !f[2].eq_ignore_ascii_case("udp") || f[1] != "1" {
                return None;
            }
            let prio: u32 = f[3].parse().ok()?;
            let ip: IpAddr = f[4].parse().ok()?;
            let port: u16 = f[5].parse().ok()?;
            if port == 0 {
                return None;
            }
            let host = f[7].eq_ignore_ascii_case("host");
            Some(((host, prio), SocketAddr::new(ip, port)))
        })
        .max_by_key(|(k, _)| *k)
        .map(|(_, a)| a)
}

/// Set the direction attribute of every audio section.
pub fn set_direction(sdp: &str, d: Direction) -> String {
    let Ok(mut doc) = Sdp::parse(sdp) else {
        return to_crlf(sdp);
    };
    for m in doc.media.iter_mut().filter(|m| m.media == "audio") {
        remove_directions(m);
        m.push_attr(d.as_str(), None);
    }
    doc.to_sdp_string()
}

/// Remove payload types from every audio section: the m-line format and their
/// `rtpmap`/`fmtp`/`rtcp-fb` lines. Used to keep a single telephone-event in
/// the offer rtc answers: rtc 0.21 matches codecs on mime type and fmtp but
/// not clock rate, so it answers `telephone-event/8000` with the PT it
/// registered for `/48000`.
pub fn remove_payload_types(sdp: &str, pts: &[u8]) -> String {
    let Ok(mut doc) = Sdp::parse(sdp) else {
        return to_crlf(sdp);
    };
    let drop: Vec<String> = pts.iter().map(|p| p.to_string()).collect();
    for m in doc.media.iter_mut().filter(|m| m.media == "audio") {
        m.fmts.retain(|f| !drop.contains(f));
        m.lines.retain(|l| {
            let key = l.attr_key();
            if !matches!(key, Some("rtpmap" | "fmtp" | "rtcp-fb")) {
                return true;
            }
            let pt = l
                .attr_value()
                .and_then(|v| v.split_whitespace().next())
                .unwrap_or("");
            !drop.iter().any(|d| d == pt)
        });
    }
    doc.to_sdp_string()
}

/// Undo the rejected-section part of [`rewrite_local`]: remove every
/// m-section whose port is 0. Returns the input (CRLF) if it cannot be parsed.
pub fn strip_rejected_sections(sdp: &str) -> String {
    let Ok(mut doc) = Sdp::parse(sdp) else {
        return to_crlf(sdp);
    };
    doc.media.retain(|m| m.port_number() != 0);
    doc.to_sdp_string()
}

/// Our `a=setup` in an answer, given the offer's.
///
/// * `actpass` -> `passive`: we prefer being the DTLS server; with rtc the
///   handshake starts as soon as the peer's ClientHello arrives, saving a
///   round trip on the SIP side where our answer may reach the peer late.
/// * `active` -> `passive`, `passive` -> `active` (RFC 4145).
/// * `holdconn` -> `holdconn`.
/// * absent -> `passive`: RFC 4145 §4 makes `active` the default for a
///   missing attribute, and RFC 5763 §5 says an offerer should send
///   `actpass`; under either reading `passive` is a valid answer, whereas
///   `active` would deadlock against an offerer that is itself active.
pub fn answer_setup(offer_setup: Option<Setup>) -> Setup {
    match offer_setup {
        Some(Setup::Passive) => Setup::Active,
        Some(Setup::HoldConn) => Setup::HoldConn,
        Some(Setup::ActPass) | Some(Setup::Active) | None => Setup::Passive,
    }
}

#[cfg(test)]
mod tests;
