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
    let src = RTC_LOCAL.to_string() + "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=recvonly\r\n";
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
