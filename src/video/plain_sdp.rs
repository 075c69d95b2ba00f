//! The video section of a plain-profile SDP (RTP/AVP, or RTP/SAVP keyed by
//! SDES): no BUNDLE in plain SIP, so video has its own port (RTCP on
//! port + 1 unless `a=rtcp-mux`), its own `c=` and, for SDES, its own
//! `a=crypto` keys (RFC 4568 §5.1.2: keys are per media stream).
//!
//! [`parse`] reads the first active video section of a remote plain SDP
//! (the codecs we keep are [`super::sdp::filter_section`]'s, as for
//! WebRTC); [`write_section`] writes ours, which [`crate::sdp::plain::write`]
//! puts at the offer's index. Feedback (`a=rtcp-fb`) is answered only as
//! offered: an RTP/AVP peer that offers none gets none, and we then send no
//! NACK or PLI ([`super::receiver`] waits for the sender's own key frames).
//!
//! ```
//! use sipwire::video::{plain_sdp, VideoCodec};
//! let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
//!              m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 100\r\na=rtpmap:100 VP8/90000\r\n";
//! let v = plain_sdp::parse(offer, &[VideoCodec::Vp8]).unwrap().unwrap();
//! assert_eq!((v.index, v.media.rtp.unwrap().port()), (1, 4002));
//! assert!(!v.video.payloads[0].pli, "no rtcp-fb offered: no feedback");
//! ```

use super::sdp::{filter_section, max_bitrate, RemoteVideo, VideoPayload};
use super::{VideoCodec, VideoConfig};
use crate::ice_lite::{LocalIce, RemoteIce};
use crate::plain_rtp::RemoteMedia;
use crate::sdes::{CryptoAttr, CryptoLineError};
use crate::sdp::parse::{Attributes, MediaSection, Sdp};
use crate::sdp::plain::{push_transport_attrs, remote_ice, remote_media};
use crate::sdp::{Direction, SdpError};
use std::net::IpAddr;

/// A remote plain SDP's video section that has codecs in common with us.
#[derive(Clone, Debug)]
pub struct PlainVideoSdp {
    /// The section's proto as written (echoed in our answer).
    pub proto: String,
    /// Index of the section in the SDP.
    pub index: usize,
    /// What we keep of it (payloads with their feedback and RTX, direction,
    /// bandwidth), as for a WebRTC video section.
    pub video: RemoteVideo,
    /// Where the far end receives video (its own port; RTCP at port + 1,
    /// `a=rtcp:` or multiplexed).
    pub media: RemoteMedia,
    /// Usable `a=crypto` lines of this section, in order.
    pub crypto: Vec<CryptoAttr>,
    /// Why other `a=crypto` lines were skipped.
    pub crypto_skipped: Vec<CryptoLineError>,
    /// ICE credentials for this section (media level, else session level).
    pub ice: Option<RemoteIce>,
}

impl PlainVideoSdp {
    /// The index of this section.
    pub fn index(&self) -> usize {
        self.index
    }
}

fn conn_ip(value: &str) -> Option<Option<IpAddr>> {
    let addr = value.split_whitespace().nth(2)?;
    let ip: IpAddr = addr.split('/').next()?.parse().ok()?;
    Some((!ip.is_unspecified()).then_some(ip))
}

/// The first video section of `text` with a port and a codec in `allowed`
/// (`Ok(None)` when there is none: the section stays rejected).
pub fn parse(text: &str, allowed: &[VideoCodec]) -> Result<Option<PlainVideoSdp>, SdpError> {
    let sdp = Sdp::parse(text)?;
    let Some((index, m)) = sdp
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| m.media.eq_ignore_ascii_case("video") && m.port_number() != 0)
    else {
        return Ok(None);
    };
    let proto = m.proto.to_ascii_uppercase();
    if !matches!(
        proto.as_str(),
        "RTP/AVP" | "RTP/AVPF" | "RTP/SAVP" | "RTP/SAVPF"
    ) {
        return Ok(None);
    }
    let Some(conn) = m
        .connection()
        .or_else(|| sdp.session_line('c'))
        .and_then(conn_ip)
    else {
        return Ok(None);
    };
    let mut section: MediaSection = m.clone();
    let payloads = filter_section(&mut section, allowed);
    if payloads.is_empty() {
        return Ok(None);
    }
    let direction = m
        .lines
        .iter()
        .rev()
        .chain(sdp.session.iter().rev())
        .find_map(|l| l.attr_key().and_then(Direction::parse))
        .unwrap_or(if conn.is_none() {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        });
    let (crypto, crypto_skipped) = crate::sdes::parse_all(m.attrs("crypto"));
    let ice = remote_ice(&sdp, m);
    Ok(Some(PlainVideoSdp {
        proto: m.proto.clone(),
        index,
        video: RemoteVideo {
            index,
            mid: m.attr("mid").unwrap_or("").trim().to_string(),
            payloads,
            direction,
            max_bitrate: max_bitrate(m),
        },
        media: remote_media(m, conn),
        crypto,
        crypto_skipped,
        ice,
    }))
}

/// Payload types of our own plain video offer: VP8 96 (RTX 97), H.264
/// constrained baseline 102 (RTX 103), as our WebRTC offers number them,
/// with every feedback we act on.
pub fn offer_payloads(cfg: &VideoConfig) -> Vec<VideoPayload> {
    cfg.codecs
        .iter()
        .map(|c| {
            let (pt, rtx, fmtp) = match c {
                VideoCodec::Vp8 => (96, 97, ""),
                VideoCodec::H264 => (
                    102,
                    103,
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                ),
            };
            VideoPayload {
                pt,
                codec: *c,
                fmtp: fmtp.into(),
                rtx: Some(rtx),
                nack: true,
                pli: true,
                fir: true,
            }
        })
        .collect()
}

/// Our video section.
#[derive(Clone, Debug)]
pub struct VideoLocal {
    /// The proto (an answer echoes the offer's).
    pub proto: String,
    /// Our video RTP port.
    pub port: u16,
    /// Payloads (an answer's: the offer's numbers and parameters).
    pub payloads: Vec<VideoPayload>,
    /// Direction.
    pub direction: Direction,
    /// Our `a=crypto` lines for this section (one in an answer).
    pub crypto: Vec<CryptoAttr>,
    /// Write `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Our video RTCP port when its socket is bound; `None` names the RTP port.
    pub rtcp_port: Option<u16>,
    /// The offer's `a=mid`, echoed.
    pub mid: Option<String>,
    /// ICE-lite lines (answers to offers with ICE only) and the address of
    /// our host candidates.
    pub ice: Option<(LocalIce, IpAddr)>,
}

/// Write our video section (`m=` line and attributes, CRLF-terminated).
///
/// ```
/// use sipwire::video::plain_sdp::{offer_payloads, write_section, VideoLocal};
/// use sipwire::video::VideoConfig;
/// let cfg = VideoConfig::from_input(&["vp8".into()], None).unwrap();
/// let s = write_section(&VideoLocal {
///     proto: "RTP/AVP".into(), port: 40002, payloads: offer_payloads(&cfg),
///     direction: cfg.direction, crypto: vec![], rtcp_mux: false, rtcp_port: Some(40003), mid: None,
///     ice: None,
/// });
/// assert!(s.starts_with("m=video 40002 RTP/AVP 96 97\r\n") && s.contains("a=rtcp:40003\r\n"));
/// ```
pub fn write_section(l: &VideoLocal) -> String {
    let mut s = format!("m=video {} {}", l.port, l.proto);
    for p in &l.payloads {
        s.push_str(&format!(" {}", p.pt));
        if let Some(rtx) = p.rtx {
            s.push_str(&format!(" {rtx}"));
        }
    }
    s.push_str("\r\n");
    for p in &l.payloads {
        s.push_str(&format!(
            "a=rtpmap:{} {}/90000\r\n",
            p.pt,
            p.codec.mime_name()
        ));
        if !p.fmtp.is_empty() {
            s.push_str(&format!("a=fmtp:{} {}\r\n", p.pt, p.fmtp));
        }
        for (on, fb) in [(p.fir, "ccm fir"), (p.nack, "nack"), (p.pli, "nack pli")] {
            if on {
                s.push_str(&format!("a=rtcp-fb:{} {fb}\r\n", p.pt));
            }
        }
        if let Some(rtx) = p.rtx {
            s.push_str(&format!(
                "a=rtpmap:{rtx} rtx/90000\r\na=fmtp:{rtx} apt={}\r\n",
                p.pt
            ));
        }
    }
    // The session-level a=ice-lite is the audio's (crate::sdp::plain::write).
    push_transport_attrs(
        &mut s,
        l.port,
        l.rtcp_port,
        l.rtcp_mux,
        &l.crypto,
        l.ice.as_ref().map(|(i, ip)| (i, *ip, 2)),
    );
    if let Some(mid) = &l.mid {
        s.push_str(&format!("a=mid:{mid}\r\n"));
    }
    s.push_str(&format!("a={}\r\n", l.direction.as_str()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 10000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
        m=video 10002 RTP/AVP 100 101 102\r\na=rtpmap:100 VP8/90000\r\n\
        a=rtpmap:101 H264/90000\r\na=fmtp:101 packetization-mode=0\r\na=rtpmap:102 H263/90000\r\n\
        a=sendonly\r\n";

    #[test]
    fn reads_an_avp_video_section_without_feedback() {
        let v = parse(OFFER, &[VideoCodec::Vp8, VideoCodec::H264])
            .unwrap()
            .unwrap();
        assert_eq!(v.index, 1);
        assert_eq!(v.proto, "RTP/AVP");
        assert_eq!(v.media.rtp, Some("127.0.0.1:10002".parse().unwrap()));
        assert_eq!((v.media.rtcp, v.media.rtcp_mux), (None, false));
        assert_eq!(v.video.direction, Direction::SendOnly);
        // H.264 in packetization-mode 0 and H.263 are not kept.
        let pts: Vec<_> = v.video.payloads.iter().map(|p| (p.pt, p.rtx)).collect();
        assert_eq!(pts, [(100, None)]);
        let p = &v.video.payloads[0];
        assert!(!p.nack && !p.pli && !p.fir);
        assert!(parse(OFFER, &[VideoCodec::H264]).unwrap().is_none());
        let rejected = OFFER.replace("m=video 10002", "m=video 0");
        assert!(parse(&rejected, &[VideoCodec::Vp8]).unwrap().is_none());
    }

    #[test]
    fn per_section_connection_rtcp_and_crypto() {
        let sdes = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 4000 RTP/SAVP 0\r\nc=IN IP4 10.0.0.1\r\n\
            a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
            m=video 5000 RTP/SAVPF 96\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:96 VP8/90000\r\n\
            a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp:5009\r\na=mid:v\r\n\
            a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n\
            a=crypto:3 NOPE inline:x\r\n";
        let v = parse(sdes, &[VideoCodec::Vp8]).unwrap().unwrap();
        assert_eq!(v.media.rtp, Some("10.0.0.2:5000".parse().unwrap()));
        assert_eq!(v.media.rtcp, Some("10.0.0.2:5009".parse().unwrap()));
        assert_eq!(v.video.mid, "v");
        assert_eq!(v.crypto.len(), 1);
        assert_eq!(v.crypto[0].tag, 2, "the video section's own keys");
        assert_eq!(v.crypto_skipped.len(), 1);
        let p = &v.video.payloads[0];
        assert!(p.nack && p.pli && !p.fir);
    }

    #[test]
    fn writes_what_it_reads() {
        let cfg = VideoConfig::from_input(&[], Some("sendrecv")).unwrap();
        let mut fill = |b: &mut [u8]| b.fill(3);
        let crypto = vec![CryptoAttr::generate(
            1,
            crate::sdes::Suite::AesCm128HmacSha1_80,
            &mut fill,
        )];
        let section = write_section(&VideoLocal {
            proto: "RTP/SAVP".into(),
            port: 40002,
            payloads: offer_payloads(&cfg),
            direction: cfg.direction,
            crypto,
            rtcp_mux: false,
            rtcp_port: Some(40003),
            mid: Some("1".into()),
            ice: Some((
                LocalIce {
                    ufrag: "vufr".into(),
                    pwd: "0123456789abcdefghijkl".into(),
                    components: 2,
                },
                "127.0.0.1".parse().unwrap(),
            )),
        });
        assert!(section.contains("a=candidate:2 2 UDP 2130706430 127.0.0.1 40003 typ host\r\n"));
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{section}"
        );
        let v = parse(&text, &cfg.codecs).unwrap().unwrap();
        assert_eq!(v.index, 0);
        assert_eq!(v.media.rtp, Some("127.0.0.1:40002".parse().unwrap()));
        assert_eq!(v.media.rtcp, Some("127.0.0.1:40003".parse().unwrap()));
        assert_eq!(v.video.payloads, offer_payloads(&cfg));
        assert_eq!(v.video.direction, Direction::SendRecv);
        assert_eq!(v.crypto.len(), 1);
        assert_eq!(v.video.mid, "1");
        assert_eq!(v.ice.as_ref().map(|i| i.ufrag.as_str()), Some("vufr"));
    }
}
