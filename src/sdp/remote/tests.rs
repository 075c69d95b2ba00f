use super::*;

pub(crate) const CHROME: &str = include_str!("../../../tests/fixtures/sdp/chrome_offer.sdp");
const FIREFOX: &str = include_str!("../../../tests/fixtures/sdp/firefox_offer.sdp");
const ASTERISK: &str = include_str!("../../../tests/fixtures/sdp/asterisk_offer.sdp");
const FREESWITCH: &str = include_str!("../../../tests/fixtures/sdp/freeswitch_offer.sdp");
const RTPENGINE: &str = include_str!("../../../tests/fixtures/sdp/rtpengine_offer.sdp");

const FP: &str = "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F";

/// A minimal valid offer with `extra` media lines appended to the audio section.
fn offer(m_line: &str, extra: &[&str]) -> String {
    let mut s = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n{m_line}\r\nc=IN IP4 127.0.0.1\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n{FP}\r\na=setup:actpass\r\n"
        );
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s
}

/// Parse with rtc's own SDP parser and apply the checks rtc applies in
/// set_remote_description (fingerprint, ICE details, candidates, codecs).
pub(crate) fn assert_rtc_accepts(sdp: &str) -> rtc::sdp::SessionDescription {
    let mut cur = std::io::Cursor::new(sdp.as_bytes());
    let desc = rtc::sdp::SessionDescription::unmarshal(&mut cur)
        .unwrap_or_else(|e| panic!("rtc rejected SDP: {e:?}\n{sdp}"));
    assert!(sdp.ends_with("\r\n"));
    assert!(!sdp.contains("\r\n\r\n") && !sdp.replace("\r\n", "").contains('\n'));
    // fingerprint: identical everywhere, "<alg> <hex>", an RFC 8122 hash
    let mut fps: Vec<String> = desc.attribute("fingerprint").cloned().into_iter().collect();
    for m in &desc.media_descriptions {
        if let Some(Some(f)) = m.attribute("fingerprint") {
            fps.push(f.to_string());
        }
    }
    if !fps.is_empty() {
        assert!(fps.iter().all(|f| f == &fps[0]), "conflicting fingerprints");
        let parts: Vec<&str> = fps[0].split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(
            crate::fingerprint::Fingerprint::parse(&fps[0]).is_some(),
            "{}",
            fps[0]
        );
    }
    for m in &desc.media_descriptions {
        if m.media_name.port.value == 0 {
            continue;
        }
        for a in &m.attributes {
            if a.key == "candidate" {
                let v = a.value.clone().unwrap_or_default();
                let c = rtc::ice::candidate::unmarshal_candidate(&v)
                    .unwrap_or_else(|e| panic!("rtc rejected candidate {v}: {e:?}"));
                assert_ne!(c.addr().port(), 0);
            }
        }
        for f in &m.media_name.formats {
            let pt: u8 = f.parse().expect("numeric pt");
            let s = rtc::sdp::SessionDescription {
                media_descriptions: vec![m.clone()],
                ..Default::default()
            };
            s.get_codec_for_payload_type(pt)
                .unwrap_or_else(|e| panic!("no codec for pt {pt}: {e:?}"));
        }
    }
    desc
}

fn names(r: &RemoteSdp) -> Vec<String> {
    r.codecs
        .iter()
        .map(|c| format!("{}:{}/{}", c.pt, c.name, c.clock_rate))
        .collect()
}

#[test]
fn chrome_offer() {
    let r = normalize_remote(CHROME, SdpKind::Offer).unwrap();
    let d = assert_rtc_accepts(&r.sdp);
    assert_eq!(d.media_descriptions.len(), 1);
    assert_eq!(r.audio_index, 0);
    assert_eq!(r.mid, "0");
    assert!(r.had_bundle && r.had_mid);
    assert_eq!(
        names(&r),
        vec![
            "111:opus/48000",
            "9:G722/8000",
            "0:PCMU/8000",
            "8:PCMA/8000",
            "110:telephone-event/48000",
            "126:telephone-event/8000"
        ]
    );
    assert_eq!(r.codecs[0].channels, 2);
    assert_eq!(
        r.codecs[0].fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1")
    );
    assert_eq!(r.telephone_event_rates, vec![48000, 8000]);
    assert!(r
        .sdp
        .contains("m=audio 51234 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126\r\n"));
    assert!(r.sdp.contains("a=group:BUNDLE 0\r\n"));
    assert!(r.sdp.contains("a=rtcp-fb:111 transport-cc\r\n"));
    assert!(r
        .sdp
        .contains("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
    assert!(r.sdp.contains("a=ssrc:1001 cname:abcd"));
    assert!(!r.sdp.contains("red/48000") && !r.sdp.contains("fmtp:63") && !r.sdp.contains("CN/"));
    assert_eq!(r.rejected_sections.len(), 1);
    let rej = &r.rejected_sections[0];
    assert_eq!(
        (rej.index, rej.media.as_str(), rej.fmt.as_str()),
        (1, "video", "96 97")
    );
    assert_eq!(rej.mid.as_deref(), Some("1"));
    assert_eq!(r.direction, Direction::SendRecv);
    assert_eq!(r.setup, Some(Setup::ActPass));
    assert_eq!(r.ice_ufrag, "EsAw");
    assert_eq!(r.connection_addr.as_deref(), Some("203.0.113.7"));
    assert_eq!(r.audio_port, 51234);
    let reasons: Vec<&str> = r.skipped_candidates.iter().map(|s| s.1).collect();
    assert_eq!(reasons, vec!["mdns", "tcp"]);
}

#[test]
fn firefox_offer() {
    let r = normalize_remote(FIREFOX, SdpKind::Offer).unwrap();
    assert_rtc_accepts(&r.sdp);
    // LF-only input -> CRLF; session fingerprint lowercased, moved to media
    assert!(r.sdp.contains("a=fingerprint:sha-256 7B:3F:18"));
    assert!(!r.sdp.contains("SHA-256"));
    assert_eq!(r.sdp.matches("a=fingerprint").count(), 1);
    assert_eq!(
        names(&r),
        vec![
            "109:opus/48000",
            "9:G722/8000",
            "0:PCMU/8000",
            "8:PCMA/8000",
            "101:telephone-event/8000"
        ]
    );
    assert!(r.sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"));
    assert!(r.sdp.contains("a=end-of-candidates\r\n"));
    assert!(r
        .sdp
        .contains("a=candidate:1 1 udp 2122187007 10.0.0.5 55001 typ host\r\n"));
    assert_eq!(r.skipped_candidates.len(), 2);
}

#[test]
fn asterisk_offer() {
    let r = normalize_remote(ASTERISK, SdpKind::Offer).unwrap();
    assert_rtc_accepts(&r.sdp);
    assert!(!r.had_bundle && !r.had_mid);
    assert!(r.sdp.contains("a=mid:0\r\n") && r.sdp.contains("a=group:BUNDLE 0\r\n"));
    // static PTs get rtpmap lines, G722 (9) on its 8000 Hz RTP clock
    assert!(
        r.sdp.contains("a=rtpmap:0 PCMU/8000\r\n")
            && r.sdp.contains("a=rtpmap:8 PCMA/8000\r\n")
            && r.sdp.contains("a=rtpmap:9 G722/8000\r\n")
    );
    assert!(r
        .sdp
        .contains("m=audio 17432 UDP/TLS/RTP/SAVPF 0 8 9 101\r\n"));
    // alphanumeric foundation rewritten to a stable u32, component 2 dropped
    let f = fnv1a32("Hc6336414");
    assert!(r.sdp.contains(&format!(
        "a=candidate:{f} 1 udp 2130706431 198.51.100.20 17432 typ host\r\n"
    )));
    assert_eq!(r.skipped_candidates[0].1, "rtcp-component");
    assert_eq!(r.connection_addr.as_deref(), Some("198.51.100.20"));
    assert!(r.sdp.contains("c=IN IP4 198.51.100.20\r\n")); // session-level c= kept
    assert!(r.sdp.contains("a=setup:actpass"));
}

#[test]
fn freeswitch_offer() {
    let r = normalize_remote(FREESWITCH, SdpKind::Offer).unwrap();
    let d = assert_rtc_accepts(&r.sdp);
    // session-level sendonly moved into the media section
    assert_eq!(r.direction, Direction::SendOnly);
    assert!(d.attribute("sendonly").is_none());
    assert!(d.media_descriptions[0].attribute("sendonly").is_some());
    assert!(r
        .sdp
        .contains("a=fmtp:111 useinbandfec=1;minptime=10;maxptime=40\r\n"));
    assert!(!r.had_mid);
    assert!(r.sdp.contains(
        "a=candidate:0560693492 1 udp 659136 192.0.2.10 24680 typ host generation 0\r\n"
    ));
    assert!(!r.sdp.contains("CN/8000"));
}

#[test]
fn rtpengine_offer_with_old_datachannel() {
    // The raw offer breaks nothing in rtc's parser but we must strip the
    // old-style DTLS/SCTP section and keep an index to reject it.
    let r = normalize_remote(RTPENGINE, SdpKind::Offer).unwrap();
    let d = assert_rtc_accepts(&r.sdp);
    assert_eq!(d.media_descriptions.len(), 1);
    assert!(!r.had_bundle && !r.had_mid);
    assert_eq!(
        r.rejected_sections,
        vec![RejectedSection {
            index: 1,
            media: "application".into(),
            proto: "DTLS/SCTP".into(),
            fmt: "5000".into(),
            mid: None
        }]
    );
    assert!(r
        .sdp
        .contains("m=audio 30000 UDP/TLS/RTP/SAVP 96 0 8 97\r\n"));
    assert!(r.sdp.contains("b=AS:84\r\n") && r.sdp.contains("b=TIAS:64000\r\n"));
    assert!(r.sdp.contains("a=rtcp-mux\r\n"));
    assert_eq!(names(&r)[0], "96:opus/48000");
}

#[test]
fn garbage_is_parse_error() {
    for g in [
        "",
        "hello",
        "INVITE sip:x SIP/2.0\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n",
    ] {
        let e = normalize_remote(g, SdpKind::Offer).unwrap_err();
        assert_eq!(e.code(), "ERR_SDP_PARSE", "{g:?}: {e}");
    }
    let e = normalize_remote(
        &offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["c=IN IP4"]),
        SdpKind::Offer,
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_SDP_PARSE");
    let e = normalize_remote(
        "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n",
        SdpKind::Offer,
    )
    .unwrap_err();
    assert!(e.to_string().contains("m= line"), "{e}");
}

#[test]
fn g729_only_offer_is_kept_with_its_fmtp() {
    let r = normalize_remote(
        &offer(
            "m=audio 4000 UDP/TLS/RTP/SAVPF 18 101",
            &["a=rtpmap:101 telephone-event/8000", "a=fmtp:18 annexb=no"],
        ),
        SdpKind::Offer,
    )
    .unwrap();
    assert_eq!(names(&r), vec!["18:G729/8000", "101:telephone-event/8000"]);
    assert_eq!(r.codecs[0].fmtp.as_deref(), Some("annexb=no"));
    // Static PT 9 without rtpmap is G.722 on its 8000 Hz RTP clock.
    let r = normalize_remote(
        &offer("m=audio 4000 UDP/TLS/RTP/SAVPF 9", &[]),
        SdpKind::Offer,
    )
    .unwrap();
    assert_eq!(names(&r), vec!["9:G722/8000"]);
    assert!(r.sdp.contains("a=rtpmap:9 G722/8000\r\n"));
}

#[test]
fn unknown_codecs_only_is_no_common_codec() {
    let e = normalize_remote(
        &offer(
            "m=audio 4000 UDP/TLS/RTP/SAVPF 96 101",
            &["a=rtpmap:96 AMR/8000", "a=rtpmap:101 telephone-event/8000"],
        ),
        SdpKind::Offer,
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_NO_COMMON_CODEC");
    assert_eq!(
            e.to_string(),
            "no common audio codec: offer has AMR/8000, telephone-event/8000; sipwire supports opus/48000/2, G722/8000, PCMU/8000, PCMA/8000, G729/8000"
        );
}

#[test]
fn rtp_avp_without_fingerprint_is_unsupported() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    let e = normalize_remote(sdp, SdpKind::Offer).unwrap_err();
    assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
    assert_eq!(
            e.to_string(),
            "offer uses RTP/AVP without a DTLS fingerprint; sipwire supports only DTLS-SRTP (UDP/TLS/RTP/SAVPF)"
        );
    let sdes = sdp.replace("RTP/AVP", "RTP/SAVP")
        + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let e = normalize_remote(&sdes, SdpKind::Answer).unwrap_err();
    assert!(
        e.to_string().starts_with("answer uses RTP/SAVP with SDES"),
        "{e}"
    );
    // fingerprint but plain RTP/AVP: still unsupported
    let e = normalize_remote(&offer("m=audio 1 RTP/AVP 0", &[]), SdpKind::Offer).unwrap_err();
    assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE");
    // UDP/TLS but no fingerprint anywhere
    let no_fp = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]).replace(FP, "");
    assert_eq!(
        normalize_remote(&no_fp, SdpKind::Offer).unwrap_err().code(),
        "ERR_UNSUPPORTED_PROFILE"
    );
}

#[test]
fn legacy_rtp_savpf_with_fingerprint_is_rewritten() {
    let r = normalize_remote(
        &offer(
            "m=audio 1 RTP/SAVPF 0",
            &["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x"],
        ),
        SdpKind::Offer,
    )
    .unwrap();
    assert_rtc_accepts(&r.sdp);
    assert_eq!(r.audio_proto, "RTP/SAVPF");
    assert!(r.sdp.contains("m=audio 1 UDP/TLS/RTP/SAVPF 0\r\n"));
    assert!(!r.sdp.contains("a=crypto"));
}

#[test]
fn any_rfc8122_fingerprint_is_kept_and_the_strongest_goes_to_rtc() {
    let sha1 = "a=fingerprint:SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB";
    let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]).replace(FP, sha1);
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert_rtc_accepts(&r.sdp);
    assert_eq!(r.fingerprints.len(), 1);
    assert!(r.sdp.contains("a=fingerprint:sha-1 4A:AD"));
    // both: sha-1 first at session level, SHA-256 at media; double space
    let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[])
        .replace("t=0 0\r\n", &format!("t=0 0\r\n{sha1}\r\n"))
        .replace("sha-256 ", "SHA-256  ");
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert_rtc_accepts(&r.sdp);
    assert_eq!(r.sdp.matches("a=fingerprint:").count(), 1);
    assert!(r.sdp.contains("a=fingerprint:sha-256 D2:FA"));
    assert_eq!(r.fingerprints.len(), 2);
    // md5, an unknown hash, or a wrong length: nothing usable.
    for bad in [
        "a=fingerprint:md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B",
        "a=fingerprint:sha-3 4A:AD",
        "a=fingerprint:sha-1 4A:AD:B9",
    ] {
        let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]).replace(FP, bad);
        let e = normalize_remote(&s, SdpKind::Offer).unwrap_err();
        assert_eq!(e.code(), "ERR_UNSUPPORTED_PROFILE", "{bad}");
        assert!(e.to_string().contains("no usable DTLS fingerprint"), "{e}");
    }
}

#[test]
fn no_audio() {
    let s = offer("m=video 1 UDP/TLS/RTP/SAVPF 96", &["a=rtpmap:96 VP8/90000"]);
    assert_eq!(
        normalize_remote(&s, SdpKind::Offer).unwrap_err().code(),
        "ERR_NO_AUDIO"
    );
    let s = offer("m=audio 0 UDP/TLS/RTP/SAVPF 0", &[]);
    assert_eq!(
        normalize_remote(&s, SdpKind::Answer).unwrap_err().code(),
        "ERR_NO_AUDIO"
    );
}

#[test]
fn second_audio_and_port_zero_sections_rejected() {
    let s = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n".to_string()
            + FP
            + "\r\nm=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:a0\r\nm=audio 5 UDP/TLS/RTP/SAVPF 8\r\na=mid:a1\r\nm=audio 6 UDP/TLS/RTP/SAVPF 0\r\na=mid:a2\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:dc\r\n";
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert_rtc_accepts(&r.sdp);
    assert_eq!(r.audio_index, 1);
    assert_eq!(r.mid, "a1");
    let idx: Vec<usize> = r.rejected_sections.iter().map(|x| x.index).collect();
    assert_eq!(idx, vec![0, 2, 3]);
    assert_eq!(r.rejected_sections[2].fmt, "webrtc-datachannel");
    assert!(r.sdp.contains("a=group:BUNDLE a1\r\n"));
}

#[test]
fn bundle_group_rewritten() {
    let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["a=mid:audio"]).replace(
        "t=0 0\r\n",
        "t=0 0\r\na=group:BUNDLE audio video\r\na=group:LS audio video\r\n",
    );
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert!(r.had_bundle && r.had_mid);
    assert_eq!(r.sdp.matches("a=group:").count(), 1);
    assert!(r.sdp.contains("a=group:BUNDLE audio\r\n"));
}

#[test]
fn static_payloads_get_rtpmap() {
    let r = normalize_remote(
        &offer("m=audio 1 UDP/TLS/RTP/SAVPF 0 8 3 9 18 13", &[]),
        SdpKind::Offer,
    )
    .unwrap();
    assert_rtc_accepts(&r.sdp);
    // GSM (3) and CN (13) are dropped; G722 (9) and G729 (18) kept.
    assert!(r.sdp.contains("m=audio 1 UDP/TLS/RTP/SAVPF 0 8 9 18\r\n"));
    assert!(
        r.sdp.contains("a=rtpmap:0 PCMU/8000\r\n") && r.sdp.contains("a=rtpmap:8 PCMA/8000\r\n")
    );
    assert_eq!(static_payload(9), Some(("G722", 8000, 1)));
    assert_eq!(static_payload(18), Some(("G729", 8000, 1)));
    assert_eq!(static_payload(96), None);
}

#[test]
fn unsupported_pts_removed_with_their_lines() {
    let r = normalize_remote(
        &offer(
            "m=audio 1 UDP/TLS/RTP/SAVPF 96 97 0 abc 98",
            &[
                "a=rtpmap:96 opus/48000",
                "a=rtpmap:97 iLBC/8000",
                "a=fmtp:97 mode=30",
                "a=rtcp-fb:97 nack",
                "a=rtcp-fb:96 transport-cc",
                "a=rtcp-fb:* ccm fir",
                "a=rtpmap:99 PCMU/8000",
            ],
        ),
        SdpKind::Offer,
    )
    .unwrap();
    assert_rtc_accepts(&r.sdp);
    assert!(r.sdp.contains("m=audio 1 UDP/TLS/RTP/SAVPF 96 0\r\n"));
    assert!(r.sdp.contains("a=rtpmap:96 opus/48000/2\r\n"));
    assert!(
        r.sdp.contains("a=rtcp-fb:96 transport-cc\r\n")
            && r.sdp.contains("a=rtcp-fb:* ccm fir\r\n")
    );
    assert!(!r.sdp.contains("iLBC") && !r.sdp.contains(":97") && !r.sdp.contains(":99"));
}

#[test]
fn direction_defaults_and_moves() {
    let r = normalize_remote(&offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]), SdpKind::Offer).unwrap();
    assert_eq!(r.direction, Direction::SendRecv);
    assert!(r.sdp.contains("a=sendrecv\r\n"));
    let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["a=inactive"])
        .replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert_eq!(r.direction, Direction::Inactive);
    assert_eq!(
        r.sdp.matches("a=sendonly").count() + r.sdp.matches("a=inactive").count(),
        1
    );
}

#[test]
fn candidates() {
    assert_eq!(
        normalize_candidate("abc 1 UDP 1 1.2.3.4 5 typ host").unwrap(),
        format!("{} 1 udp 1 1.2.3.4 5 typ host", fnv1a32("abc"))
    );
    assert_eq!(
        normalize_candidate("4294967296 1 udp 1 1.2.3.4 5 typ host").unwrap(),
        format!("{} 1 udp 1 1.2.3.4 5 typ host", fnv1a32("4294967296"))
    );
    assert_eq!(
        normalize_candidate("1 1 udp 1 x.local 5 typ host"),
        Err("mdns")
    );
    assert_eq!(
        normalize_candidate("1 1 tcp 1 1.2.3.4 5 typ host tcptype passive"),
        Err("tcp")
    );
    assert_eq!(
        normalize_candidate("1 1 udp 1 1.2.3.4 0 typ host"),
        Err("port-zero")
    );
    assert_eq!(
        normalize_candidate("1 1 udp 1 pbx.example.com 5 typ host"),
        Err("hostname")
    );
    assert_eq!(
        normalize_candidate("1 1 udp 1 1.2.3.4 5 typ weird"),
        Err("unknown-type")
    );
    assert_eq!(
        normalize_candidate("1 1 udp 99999999999 1.2.3.4 5 typ host"),
        Err("priority")
    );
    assert_eq!(
        normalize_candidate("1 1 udp 1 1.2.3.4 5 typ srflx raddr"),
        Err("malformed")
    );
    assert_eq!(normalize_candidate("1 1 udp"), Err("malformed"));
    let ok =
        normalize_candidate("1 1 udp 1 2001:db8::1 5 typ relay raddr 1.2.3.4 rport 9 generation 0")
            .unwrap();
    rtc::ice::candidate::unmarshal_candidate(&ok).unwrap();
    let s = offer(
        "m=audio 1 UDP/TLS/RTP/SAVPF 0",
        &[
            "a=candidate:port0 1 udp 1 1.2.3.4 0 typ host",
            "a=end-of-candidates",
        ],
    );
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert_eq!(
        r.skipped_candidates,
        vec![(
            "a=candidate:port0 1 udp 1 1.2.3.4 0 typ host".to_string(),
            "port-zero"
        )]
    );
    assert!(r.sdp.contains("a=end-of-candidates\r\n"));
}

#[test]
fn fmtp_spaces_removed() {
    assert_eq!(
        normalize_fmtp_params("minptime=10; useinbandfec=1"),
        "minptime=10;useinbandfec=1"
    );
    assert_eq!(normalize_fmtp_params(" a = 1 ;; b=2 "), "a=1;b=2");
    assert_eq!(normalize_fmtp_params("0-16"), "0-16");
}

#[test]
fn rtcp_mux_added_once() {
    let r = normalize_remote(&offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[]), SdpKind::Offer).unwrap();
    assert_eq!(r.sdp.matches("a=rtcp-mux\r\n").count(), 1);
    let r = normalize_remote(
        &offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["a=rtcp-mux"]),
        SdpKind::Offer,
    )
    .unwrap();
    assert_eq!(r.sdp.matches("a=rtcp-mux\r\n").count(), 1);
}

#[test]
fn ice_credentials() {
    let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &[])
        .replace(
            "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n",
            "",
        )
        .replace(
            "t=0 0\r\n",
            "t=0 0\r\na=ice-ufrag:sess\r\na=ice-pwd:sessionpassword0123456\r\n",
        );
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    let d = assert_rtc_accepts(&r.sdp);
    assert_eq!(r.ice_ufrag, "sess");
    assert!(d.attribute("ice-ufrag").is_none());
    assert_eq!(
        d.media_descriptions[0].attribute("ice-ufrag"),
        Some(Some("sess"))
    );
    let none = s.replace(
        "a=ice-ufrag:sess\r\na=ice-pwd:sessionpassword0123456\r\n",
        "",
    );
    let e = normalize_remote(&none, SdpKind::Offer).unwrap_err();
    assert_eq!(e.code(), "ERR_SDP_PARSE");
    assert!(e.to_string().contains("no ICE credentials"));
}

#[test]
fn mixed_line_ends_and_odd_session_lines() {
    let s = offer("m=audio 1 UDP/TLS/RTP/SAVPF 0", &["k=prompt", "b=AS:x"])
        .replace("\r\n", "\n")
        .replace("s=-\n", "s=-  \r\nu=not a url\r\nz=0 0\n")
        .replace("t=0 0\n", "");
    let r = normalize_remote(&s, SdpKind::Offer).unwrap();
    assert_rtc_accepts(&r.sdp);
    assert!(r.sdp.contains("t=0 0\r\n") && !r.sdp.contains("u=") && !r.sdp.contains("k="));
}

#[test]
fn never_panics_on_mangled_input() {
    let base = CHROME.to_string();
    for cut in (0..base.len()).step_by(7) {
        if let Some(s) = base.get(..cut) {
            let _ = normalize_remote(s, SdpKind::Offer);
        }
    }
    for s in [
        "v=0\nm=",
        "v=0\nm=audio 1 UDP/TLS/RTP/SAVPF",
        "v=0\no=\nm=audio 1 a b",
        "v=0\r\na=:\r\nm=audio 65536 x 0",
        "\u{feff}v=0",
    ] {
        let _ = normalize_remote(s, SdpKind::Offer);
    }
}
