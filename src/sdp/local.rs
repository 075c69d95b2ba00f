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
mod tests {
    use super::*;
    use crate::sdp::remote::tests::assert_rtc_accepts;

    /// Shaped like rtc 0.21's answer, including the duplicated
    /// telephone-event/48000 seen in the wild.
    const RTC_LOCAL: &str = "v=0\r\no=- 8021357349174420188 407217446 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 110 110 126\r\nc=IN IP4 0.0.0.0\r\na=setup:active\r\na=mid:0\r\na=ice-ufrag:lEaKXuMDjGvdSXgW\r\na=ice-pwd:oXfTpVBaqmZqyNaWDUprvmizEFAMMZnh\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\na=ssrc:3333 cname:x\r\na=sendrecv\r\na=candidate:1 1 udp 2130706431 10.1.1.1 5000 typ host\r\na=end-of-candidates\r\n";

    fn cands() -> Vec<String> {
        vec![
            "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host".to_string(),
            "candidate:2 1 udp 1694498815 203.0.113.5 40001 typ srflx raddr 127.0.0.1 rport 40000"
                .to_string(),
        ]
    }

    #[test]
    fn replaces_candidates() {
        let out = rewrite_local(
            RTC_LOCAL,
            &LocalRewrite {
                candidates: cands(),
                end_of_candidates: true,
                ..Default::default()
            },
        );
        assert_rtc_accepts(&out);
        assert!(!out.contains("10.1.1.1"));
        assert!(out.contains("a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"));
        assert!(out.contains("a=candidate:2 1 udp 1694498815 203.0.113.5 40001 typ srflx"));
        assert_eq!(out.matches("a=end-of-candidates\r\n").count(), 1);
        let none = rewrite_local(RTC_LOCAL, &LocalRewrite::default());
        assert!(!none.contains("a=candidate") && !none.contains("end-of-candidates"));
    }

    #[test]
    fn default_addr_sets_port_and_c_lines() {
        let src = RTC_LOCAL
            .replace("t=0 0\r\n", "c=IN IP4 0.0.0.0\r\nt=0 0\r\n")
            .replace(
                "a=rtcp-mux\r\n",
                "a=rtcp-mux\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
            );
        let opts = LocalRewrite {
            default_addr: Some("198.51.100.7:40000".parse().unwrap()),
            ..Default::default()
        };
        let out = rewrite_local(&src, &opts);
        assert_rtc_accepts(&out);
        assert!(out.contains("m=audio 40000 UDP/TLS/RTP/SAVPF"));
        assert_eq!(out.matches("c=IN IP4 198.51.100.7\r\n").count(), 2);
        assert!(out.contains("a=rtcp:40000 IN IP4 198.51.100.7\r\n"));
        // session-level c= only -> a media-level one is added
        let src = RTC_LOCAL.replace("c=IN IP4 0.0.0.0\r\n", "");
        let out = rewrite_local(
            &src,
            &LocalRewrite {
                default_addr: Some("[2001:db8::5]:4000".parse().unwrap()),
                ..Default::default()
            },
        );
        assert_rtc_accepts(&out);
        assert!(out.contains("m=audio 4000 ") && out.contains("c=IN IP6 2001:db8::5\r\n"));
    }

    #[test]
    fn direction_and_setup() {
        let out = rewrite_local(
            RTC_LOCAL,
            &LocalRewrite {
                direction: Some(Direction::RecvOnly),
                setup: Some(Setup::Passive),
                ..Default::default()
            },
        );
        assert_rtc_accepts(&out);
        assert!(out.contains("a=recvonly\r\n") && !out.contains("a=sendrecv"));
        assert!(out.contains("a=setup:passive\r\n") && !out.contains("a=setup:active"));
    }

    #[test]
    fn dedupes_telephone_event() {
        let src = RTC_LOCAL.replace("110 110 126", "110 126 112").replace(
            "a=rtpmap:126",
            "a=rtpmap:112 telephone-event/48000\r\na=fmtp:112 0-15\r\na=rtpmap:126",
        );
        let out = rewrite_local(
            &src,
            &LocalRewrite {
                dedupe_telephone_event: true,
                ..Default::default()
            },
        );
        assert_rtc_accepts(&out);
        assert!(
            out.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111 0 110 126\r\n"),
            "{out}"
        );
        assert_eq!(out.matches("telephone-event/48000").count(), 1);
        assert!(!out.contains(":112"));
        let out = rewrite_local(
            RTC_LOCAL,
            &LocalRewrite {
                dedupe_telephone_event: true,
                ..Default::default()
            },
        );
        assert!(out.contains("111 0 110 126\r\n"));
        assert_eq!(out.matches("a=rtpmap:110 telephone-event/48000").count(), 1);
    }

    #[test]
    fn puts_back_rejected_sections() {
        let opts = LocalRewrite {
            rejected_sections: vec![
                RejectedSection {
                    index: 2,
                    media: "application".into(),
                    proto: "DTLS/SCTP".into(),
                    fmt: "5000".into(),
                    mid: None,
                },
                RejectedSection {
                    index: 0,
                    media: "video".into(),
                    proto: "UDP/TLS/RTP/SAVPF".into(),
                    fmt: "96 97".into(),
                    mid: Some("v".into()),
                },
            ],
            ..Default::default()
        };
        let out = rewrite_local(RTC_LOCAL, &opts);
        let d = assert_rtc_accepts(&out);
        let media: Vec<(String, isize)> = d
            .media_descriptions
            .iter()
            .map(|m| (m.media_name.media.clone(), m.media_name.port.value))
            .collect();
        assert_eq!(
            media,
            vec![
                ("video".into(), 0),
                ("audio".into(), 9),
                ("application".into(), 0)
            ]
        );
        assert!(out.contains(
            "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=inactive\r\n"
        ));
        assert!(out.contains("m=application 0 DTLS/SCTP 5000\r\n"));
        // index beyond the end is clamped
        let opts = LocalRewrite {
            rejected_sections: vec![RejectedSection {
                index: 9,
                media: "video".into(),
                proto: "RTP/AVP".into(),
                fmt: String::new(),
                mid: None,
            }],
            ..Default::default()
        };
        let out = rewrite_local(RTC_LOCAL, &opts);
        assert!(out.ends_with("m=video 0 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=inactive\r\n"));
    }

    #[test]
    fn strip_bundle() {
        let out = rewrite_local(
            RTC_LOCAL,
            &LocalRewrite {
                strip_bundle: true,
                ..Default::default()
            },
        );
        assert_rtc_accepts(&out);
        assert!(!out.contains("a=group:BUNDLE"));
        let out = rewrite_local(RTC_LOCAL, &LocalRewrite::default());
        assert!(out.contains("a=group:BUNDLE 0\r\n"));
    }

    #[test]
    fn crlf_and_fallback() {
        let out = rewrite_local(&RTC_LOCAL.replace("\r\n", "\n"), &LocalRewrite::default());
        assert!(out.ends_with("\r\n") && !out.replace("\r\n", "").contains('\n'));
        assert_eq!(
            rewrite_local("garbage\nhere", &LocalRewrite::default()),
            "garbage\r\nhere\r\n"
        );
        assert_eq!(rewrite_local("", &LocalRewrite::default()), "");
    }

    #[test]
    fn picks_default_candidate() {
        let mut c = cands();
        assert_eq!(
            default_candidate(&c),
            Some("127.0.0.1:40000".parse().unwrap())
        );
        c.push("a=candidate:3 1 udp 2130706432 10.0.0.1 1 typ host".into());
        c.push("candidate:4 1 tcp 2130706499 10.0.0.2 2 typ host tcptype passive".into());
        c.push("candidate:5 2 udp 2130706499 10.0.0.3 3 typ host".into());
        c.push("candidate:6 1 udp 2130706499 x.local 4 typ host".into());
        assert_eq!(default_candidate(&c), Some("10.0.0.1:1".parse().unwrap()));
        assert_eq!(
            default_candidate(&c[1..2]),
            Some("203.0.113.5:40001".parse().unwrap())
        );
        assert_eq!(default_candidate(&[]), None);
        assert_eq!(default_candidate(&["junk".into()]), None);
    }

    #[test]
    fn set_direction_all_audio() {
        let src =
            RTC_LOCAL.to_string() + "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=recvonly\r\n";
        let out = set_direction(&src, Direction::Inactive);
        assert_rtc_accepts(&out);
        assert_eq!(out.matches("a=inactive\r\n").count(), 2);
        assert!(!out.contains("a=sendrecv") && !out.contains("a=recvonly"));
    }

    #[test]
    fn strips_rejected_sections() {
        let opts = LocalRewrite {
            rejected_sections: vec![RejectedSection {
                index: 0,
                media: "video".into(),
                proto: "RTP/AVP".into(),
                fmt: "96".into(),
                mid: None,
            }],
            ..Default::default()
        };
        let with = rewrite_local(RTC_LOCAL, &opts);
        assert!(with.contains("m=video 0"));
        let without = strip_rejected_sections(&with);
        assert_rtc_accepts(&without);
        assert_eq!(without, rewrite_local(RTC_LOCAL, &LocalRewrite::default()));
    }

    #[test]
    fn answer_setup_rules() {
        assert_eq!(answer_setup(Some(Setup::ActPass)), Setup::Passive);
        assert_eq!(answer_setup(Some(Setup::Active)), Setup::Passive);
        assert_eq!(answer_setup(Some(Setup::Passive)), Setup::Active);
        assert_eq!(answer_setup(Some(Setup::HoldConn)), Setup::HoldConn);
        assert_eq!(answer_setup(None), Setup::Passive);
    }

    #[test]
    fn rejected_sections_are_put_back_once_even_when_rewritten_again() {
        // Issue #15.1: the answer (already rewritten) was rewritten again for
        // localDescription and the 200 OK, duplicating every rejected section.
        let rw = LocalRewrite {
            candidates: cands(),
            rejected_sections: vec![
                RejectedSection {
                    index: 1,
                    media: "audio".into(),
                    proto: "UDP/TLS/RTP/SAVPF".into(),
                    fmt: "0".into(),
                    mid: Some("a2".into()),
                },
                RejectedSection {
                    index: 2,
                    media: "video".into(),
                    proto: "UDP/TLS/RTP/SAVPF".into(),
                    fmt: "96".into(),
                    mid: Some("1".into()),
                },
            ],
            ..Default::default()
        };
        let once = rewrite_local(RTC_LOCAL, &rw);
        let twice = rewrite_local(&once, &rw);
        let thrice = rewrite_local(&twice, &rw);
        assert_eq!(once, twice);
        assert_eq!(twice, thrice);
        let d = assert_rtc_accepts(&thrice);
        let m: Vec<(&str, isize)> = d
            .media_descriptions
            .iter()
            .map(|m| (m.media_name.media.as_str(), m.media_name.port.value))
            .collect();
        assert_eq!(m, vec![("audio", 9), ("audio", 0), ("video", 0)]);
        assert_eq!(thrice.matches("a=mid:").count(), 3);
    }

    #[test]
    fn remote_then_local_roundtrip() {
        // Normalise a Chrome offer, then put its rejected video back into our answer.
        let r = crate::sdp::normalize_remote(
            crate::sdp::remote::tests::CHROME,
            crate::sdp::SdpKind::Offer,
        )
        .unwrap();
        let out = rewrite_local(
            RTC_LOCAL,
            &LocalRewrite {
                rejected_sections: r.rejected_sections.clone(),
                setup: Some(answer_setup(r.setup)),
                ..Default::default()
            },
        );
        let d = assert_rtc_accepts(&out);
        assert_eq!(d.media_descriptions.len(), 2);
        assert_eq!(d.media_descriptions[1].media_name.media, "video");
    }
}
