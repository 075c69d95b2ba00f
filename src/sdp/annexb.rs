//! G.729 Annex B in our own SDP (RFC 4856 §2.1.9): we never send Annex B
//! (VAD/DTX/SID), so every G.729 payload type we offer or answer carries
//! `a=fmtp:<pt> annexb=no`. An absent `annexb` means "yes", and rtc copies
//! an offer's fmtp into its answer, so the line is always written here.

use super::parse::{Attributes, MediaSection, SdpLine};

/// Replace the fmtp of every G729/8000 payload type in `m` with
/// `annexb=no`, placed right after its rtpmap. Idempotent.
pub(super) fn declare_annexb_no(m: &mut MediaSection) {
    let pts: Vec<String> = m
        .attrs("rtpmap")
        .into_iter()
        .filter_map(|v| {
            let (pt, enc) = v.split_once(char::is_whitespace)?;
            let enc = enc.trim();
            (enc.eq_ignore_ascii_case("G729/8000") || enc.eq_ignore_ascii_case("G729/8000/1"))
                .then(|| pt.to_string())
        })
        .collect();
    for pt in pts {
        let is_fmtp = |l: &SdpLine| {
            l.is_attr("fmtp")
                && l.attr_value()
                    .and_then(|v| v.split_whitespace().next())
                    .is_some_and(|p| p == pt)
        };
        m.lines.retain(|l| !is_fmtp(l));
        let line = SdpLine::attr("fmtp", Some(&format!("{pt} annexb=no")));
        let at = m.lines.iter().position(|l| {
            l.is_attr("rtpmap")
                && l.attr_value()
                    .and_then(|v| v.split_whitespace().next())
                    .is_some_and(|p| p == pt)
        });
        match at {
            Some(i) => m.lines.insert(i + 1, line),
            None => m.lines.push(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::Sdp;
    use super::*;

    fn section(lines: &str) -> MediaSection {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 0\r\n{lines}"
        );
        Sdp::parse(&text).unwrap().media.remove(0)
    }

    fn fmtps(m: &MediaSection) -> Vec<&str> {
        m.attrs("fmtp")
    }

    #[test]
    fn answers_annexb_no_whatever_was_offered() {
        for offered in ["a=fmtp:18 annexb=yes\r\n", "", "a=fmtp:18 annexb=no\r\n"] {
            let mut m = section(&format!(
                "a=rtpmap:18 G729/8000\r\n{offered}a=rtpmap:0 PCMU/8000\r\na=fmtp:0 foo=1\r\n"
            ));
            declare_annexb_no(&mut m);
            declare_annexb_no(&mut m);
            assert_eq!(fmtps(&m), vec!["18 annexb=no", "0 foo=1"], "{offered:?}");
            let pos = |k: &str| m.lines.iter().position(|l| l.value == k).unwrap();
            assert_eq!(pos("fmtp:18 annexb=no"), pos("rtpmap:18 G729/8000") + 1);
        }
    }

    #[test]
    fn leaves_sdp_without_g729_alone() {
        let mut m = section("a=rtpmap:0 PCMU/8000\r\n");
        let before = m.clone();
        declare_annexb_no(&mut m);
        assert_eq!(m, before);
    }
}
