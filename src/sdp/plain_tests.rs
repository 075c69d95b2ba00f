//! Unit tests of [`super`] (the plain-profile SDP), kept apart so the module stays readable.

use super::*;

const BARESIP: &str = "v=0\r\no=- 3962938371 2813208419 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=ssrc:1 cname:x\r\na=rtcp-rsize\r\na=ptime:20\r\n";

#[test]
fn classifies_profiles() {
    assert_eq!(profile_of(BARESIP).unwrap(), MediaProfile::Rtp);
    let sdes = BARESIP.replace("RTP/AVP", "RTP/SAVP")
        + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";
    assert_eq!(profile_of(&sdes).unwrap(), MediaProfile::Sdes);
    let dtls = BARESIP.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF");
    assert_eq!(profile_of(&dtls).unwrap(), MediaProfile::WebRtc);
    let legacy = BARESIP.replace("RTP/AVP", "RTP/SAVPF") + "a=fingerprint:sha-256 AA\r\n";
    assert_eq!(profile_of(&legacy).unwrap(), MediaProfile::WebRtc);
    assert!(profile_of("garbage").is_err());
}

#[test]
fn reads_a_baresip_offer() {
    let p = parse(BARESIP, "offer").unwrap();
    assert_eq!(p.profile, MediaProfile::Rtp);
    assert_eq!(p.media.rtp, Some("127.0.0.1:10000".parse().unwrap()));
    assert_eq!(p.media.rtcp, None);
    assert!(!p.rtcp_mux);
    let names: Vec<_> = p.codecs.iter().map(|c| (c.pt, c.name.as_str())).collect();
    assert_eq!(names, [(0, "PCMU"), (8, "PCMA"), (101, "telephone-event")]);
    assert_eq!(p.ptime, Some(20));
    assert_eq!(p.direction, Direction::SendRecv);
    assert_eq!(p.ice, None);
    // Session-level credentials (baresip's medianat=ice writes them there).
    let ice = BARESIP.replace("t=0 0\r\n", "t=0 0\r\na=ice-ufrag:u1\r\na=ice-pwd:p1\r\n");
    let ice = parse(&ice, "offer").unwrap().ice.unwrap();
    assert_eq!(
        (ice.ufrag.as_str(), ice.pwd.as_str(), ice.lite),
        ("u1", "p1", false)
    );
}

#[test]
fn hold_forms_and_rtcp_attribute() {
    let held = BARESIP
        .replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
        .replace("a=sendrecv\r\n", "");
    let p = parse(&held, "offer").unwrap();
    assert_eq!(p.media.rtp, None);
    assert_eq!(p.direction, Direction::SendOnly);
    let s = BARESIP.replace("a=sendrecv", "a=sendonly")
        + "a=rtcp:10005 IN IP4 10.1.1.1\r\na=maxptime:40\r\n";
    let p = parse(&s, "offer").unwrap();
    assert_eq!(p.direction, Direction::SendOnly);
    assert_eq!(p.media.rtcp, Some("10.1.1.1:10005".parse().unwrap()));
    assert_eq!(p.maxptime, Some(40));
    let s = BARESIP.to_string() + "a=rtcp:10003\r\n";
    assert_eq!(
        parse(&s, "o").unwrap().media.rtcp,
        Some("127.0.0.1:10003".parse().unwrap())
    );
}

#[test]
fn static_types_without_rtpmap_and_rejected_sections() {
    let s = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 5002 RTP/AVP 96\r\nm=audio 5000 RTP/AVP 18 0 13\r\nc=IN IP4 10.0.0.1\r\n";
    let p = parse(s, "offer").unwrap();
    assert_eq!(p.audio_index, 1);
    let names: Vec<_> = p.codecs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["G729", "PCMU", "CN"]);
    assert_eq!(p.rejected_sections.len(), 1);
    assert_eq!(p.rejected_sections[0].media, "video");
    let err = parse(&s.replace("c=IN IP4 10.0.0.1\r\n", ""), "offer").unwrap_err();
    assert_eq!(err.code(), "ERR_SDP_PARSE");
}

#[test]
fn writes_what_it_reads() {
    let mut fill = |b: &mut [u8]| b.fill(7);
    let local = PlainLocal {
        profile: MediaProfile::Sdes,
        proto: "RTP/SAVP".into(),
        addr: "127.0.0.1:40000".parse().unwrap(),
        formats: vec![
            LocalFormat {
                pt: 0,
                name: "PCMU".into(),
                clock_rate: 8000,
                channels: 1,
                fmtp: None,
            },
            LocalFormat {
                pt: 101,
                name: "telephone-event".into(),
                clock_rate: 8000,
                channels: 1,
                fmtp: Some("0-15".into()),
            },
        ],
        direction: Direction::SendOnly,
        crypto: vec![CryptoAttr::generate(
            1,
            crate::sdes::Suite::AesCm128HmacSha1_80,
            &mut fill,
        )],
        ptime: 20,
        rtcp_mux: true,
        rtcp_port: None,
        ice: Some(LocalIce {
            ufrag: "abcd".into(),
            pwd: "0123456789abcdefghijkl".into(),
            components: 2,
        }),
        session_id: 42,
        version: 2,
        rejected_sections: vec![RejectedSection {
            index: 0,
            media: "video".into(),
            proto: "RTP/AVP".into(),
            fmt: "96".into(),
            mid: None,
        }],
        audio_index: 1,
        video: None,
    };
    let text = write(&local);
    assert!(
        text.contains("m=video 0 RTP/AVP 96\r\nm=audio 40000 RTP/SAVP 0 101\r\n"),
        "{text}"
    );
    let p = parse(&text, "answer").unwrap();
    assert_eq!(p.profile, MediaProfile::Sdes);
    assert_eq!(p.crypto.len(), 1);
    assert_eq!(p.media.rtcp, Some("127.0.0.1:40000".parse().unwrap()));
    assert!(p.rtcp_mux);
    assert_eq!(p.direction, Direction::SendOnly);
    assert_eq!(
        p.ice,
        Some(RemoteIce {
            ufrag: "abcd".into(),
            pwd: "0123456789abcdefghijkl".into(),
            lite: true
        })
    );
    assert!(text.contains("a=candidate:1 2 UDP 2130706430 127.0.0.1 40000 typ host\r\n"));
    assert_eq!(profile_of(&text).unwrap(), MediaProfile::Sdes);
    // With an RTCP socket at port + 1: a=rtcp and component 2 name it.
    let text = write(&PlainLocal {
        rtcp_mux: false,
        rtcp_port: Some(40001),
        ..local
    });
    let p = parse(&text, "answer").unwrap();
    assert_eq!(p.media.rtcp, Some("127.0.0.1:40001".parse().unwrap()));
    assert!(!p.rtcp_mux);
    assert!(text.contains("a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host\r\n"));
    assert!(text.contains("a=candidate:1 2 UDP 2130706430 127.0.0.1 40001 typ host\r\n"));
    assert_eq!(static_pt("PCMA", 8000), Some(8));
    assert_eq!(static_pt("G722", 8000), Some(9));
    assert_eq!(static_pt("opus", 48000), None);
}
