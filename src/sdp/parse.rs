//! A small, forgiving line model of SDP: session-level lines plus media
//! sections, with helpers to read and edit `a=` attributes.
//!
//! The model never interprets more than it must: every line is kept as a type
//! character plus its raw value, so unknown attributes survive a round trip.
//! [`Sdp::to_sdp_string`] writes lines back in RFC 8866 order (which rtc's
//! strict state-machine parser requires) with CRLF line ends.

use super::error::SdpError;

/// One `<type>=<value>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpLine {
    /// The line type letter, e.g. `'a'`, `'c'`, `'o'`.
    pub typ: char,
    /// Everything after the `=`, with surrounding whitespace removed.
    pub value: String,
}

impl SdpLine {
    /// A line of any type.
    pub fn new(typ: char, value: impl Into<String>) -> Self {
        SdpLine {
            typ,
            value: value.into(),
        }
    }

    /// An attribute line: `a=key` or `a=key:value`.
    pub fn attr(key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => SdpLine::new('a', format!("{key}:{v}")),
            None => SdpLine::new('a', key),
        }
    }

    /// The attribute name if this is an `a=` line.
    pub fn attr_key(&self) -> Option<&str> {
        if self.typ != 'a' {
            return None;
        }
        Some(
            self.value
                .split_once(':')
                .map_or(self.value.as_str(), |(k, _)| k),
        )
    }

    /// The attribute value (after the first `:`) if this is an `a=key:value` line.
    pub fn attr_value(&self) -> Option<&str> {
        if self.typ != 'a' {
            return None;
        }
        self.value.split_once(':').map(|(_, v)| v)
    }

    /// True if this is an `a=` line whose name is `key`.
    pub fn is_attr(&self, key: &str) -> bool {
        self.attr_key() == Some(key)
    }
}

/// Helpers to read and edit attribute lines in a list of lines (session level
/// or one media section).
pub trait Attributes {
    /// The underlying lines.
    fn lines(&self) -> &[SdpLine];
    /// The underlying lines, mutable.
    fn lines_mut(&mut self) -> &mut Vec<SdpLine>;

    /// Value of the first `a=key[:value]`; `Some("")` for a flag attribute.
    fn attr(&self, key: &str) -> Option<&str> {
        self.lines()
            .iter()
            .find(|l| l.is_attr(key))
            .map(|l| l.attr_value().unwrap_or(""))
    }

    /// Values of all `a=key[:value]` lines, in order.
    fn attrs(&self, key: &str) -> Vec<&str> {
        self.lines()
            .iter()
            .filter(|l| l.is_attr(key))
            .map(|l| l.attr_value().unwrap_or(""))
            .collect()
    }

    /// True if any `a=key` line exists.
    fn has_attr(&self, key: &str) -> bool {
        self.lines().iter().any(|l| l.is_attr(key))
    }

    /// Remove every `a=key` line; returns how many were removed.
    fn remove_attrs(&mut self, key: &str) -> usize {
        let before = self.lines().len();
        self.lines_mut().retain(|l| !l.is_attr(key));
        before - self.lines().len()
    }

    /// Replace the first `a=key` line in place (removing any others), or
    /// append one if there is none.
    fn set_attr(&mut self, key: &str, value: Option<&str>) {
        let new = SdpLine::attr(key, value);
        let lines = self.lines_mut();
        match lines.iter().position(|l| l.is_attr(key)) {
            Some(i) => {
                lines[i] = new;
                let mut seen = false;
                lines.retain(|l| {
                    if l.is_attr(key) {
                        let keep = !seen;
                        seen = true;
                        keep
                    } else {
                        true
                    }
                });
            }
            None => lines.push(new),
        }
    }

    /// Append an attribute line.
    fn push_attr(&mut self, key: &str, value: Option<&str>) {
        self.lines_mut().push(SdpLine::attr(key, value));
    }
}

impl Attributes for Vec<SdpLine> {
    fn lines(&self) -> &[SdpLine] {
        self
    }
    fn lines_mut(&mut self) -> &mut Vec<SdpLine> {
        self
    }
}

/// One media section: the parsed `m=` line and the lines that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    /// `audio`, `video`, `application`, ...
    pub media: String,
    /// The port field as written (may carry a `/count` suffix).
    pub port: String,
    /// The transport protocol, e.g. `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// The format list (payload types for RTP).
    pub fmts: Vec<String>,
    /// Lines after the m-line (`i=`, `c=`, `b=`, `a=`, ...).
    pub lines: Vec<SdpLine>,
}

impl Attributes for MediaSection {
    fn lines(&self) -> &[SdpLine] {
        &self.lines
    }
    fn lines_mut(&mut self) -> &mut Vec<SdpLine> {
        &mut self.lines
    }
}

impl MediaSection {
    /// Parse the value of an `m=` line. Needs media, a numeric port and a
    /// well-formed proto; the format list may be empty.
    pub fn parse_m(value: &str) -> Result<Self, SdpError> {
        let fields: Vec<&str> = value.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(SdpError::Parse(format!("malformed m= line `m={value}`")));
        }
        let port_ok = fields[1].split('/').all(|p| p.parse::<u16>().is_ok());
        if !port_ok {
            return Err(SdpError::Parse(format!(
                "malformed port in m= line `m={value}`"
            )));
        }
        if fields[2].split('/').any(str::is_empty) {
            return Err(SdpError::Parse(format!(
                "malformed proto in m= line `m={value}`"
            )));
        }
        Ok(MediaSection {
            media: fields[0].to_string(),
            port: fields[1].to_string(),
            proto: fields[2].to_string(),
            fmts: fields[3..].iter().map(|s| s.to_string()).collect(),
            lines: Vec::new(),
        })
    }

    /// The port number (without any `/count` suffix); 0 if unparsable.
    pub fn port_number(&self) -> u16 {
        self.port
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// The `m=` line value.
    pub fn m_value(&self) -> String {
        let mut s = format!("{} {} {}", self.media, self.port, self.proto);
        for f in &self.fmts {
            s.push(' ');
            s.push_str(f);
        }
        s
    }

    /// The media-level `c=` value, if any.
    pub fn connection(&self) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.typ == 'c')
            .map(|l| l.value.as_str())
    }
}

/// A whole SDP body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sdp {
    /// Session-level lines (`v=` ... up to the first `m=`).
    pub session: Vec<SdpLine>,
    /// Media sections in order.
    pub media: Vec<MediaSection>,
}

/// Split text into trimmed non-empty lines, accepting LF, CRLF, stray CR and
/// trailing whitespace.
pub fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
}

fn split_type(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let t = chars.next()?;
    if !t.is_ascii_alphabetic() || chars.next()? != '=' {
        return None;
    }
    Some((t, line.get(2..)?.trim()))
}

/// Rank of a session-level line type in RFC 8866 order (what rtc requires).
fn session_rank(t: char) -> u8 {
    match t {
        'v' => 0,
        'o' => 1,
        's' => 2,
        'i' => 3,
        'u' => 4,
        'e' => 5,
        'p' => 6,
        'c' => 7,
        'b' => 8,
        't' => 9,
        'r' => 10,
        'z' => 11,
        'k' => 12,
        'a' => 13,
        _ => 14,
    }
}

/// Rank of a media-level line type in RFC 8866 order.
fn media_rank(t: char) -> u8 {
    match t {
        'i' => 0,
        'c' => 1,
        'b' => 2,
        'k' => 3,
        'a' => 4,
        _ => 5,
    }
}

impl Sdp {
    /// Parse SDP text. The first line must be `v=0`; lines that are not
    /// `<letter>=...` after that are ignored. An `m=` line that cannot be
    /// parsed is an error.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let mut lines = split_lines(text);
        match lines.next().and_then(split_type) {
            Some(('v', "0")) => {}
            _ => {
                return Err(SdpError::Parse(
                    "not an SDP body: first line is not v=0".to_string(),
                ))
            }
        }
        let mut sdp = Sdp {
            session: vec![SdpLine::new('v', "0")],
            media: Vec::new(),
        };
        for line in lines {
            let Some((t, value)) = split_type(line) else {
                log::debug!("sdp: ignoring non-SDP line {line:?}");
                continue;
            };
            if t == 'm' {
                sdp.media.push(MediaSection::parse_m(value)?);
                continue;
            }
            let l = SdpLine::new(t, value);
            match sdp.media.last_mut() {
                Some(m) => m.lines.push(l),
                None => sdp.session.push(l),
            }
        }
        Ok(sdp)
    }

    /// Serialise with CRLF line ends (ending with CRLF), in RFC 8866 line
    /// order. The relative order of lines of the same type is preserved.
    pub fn to_sdp_string(&self) -> String {
        let mut out = String::new();
        let mut session: Vec<&SdpLine> = self.session.iter().collect();
        session.sort_by_key(|l| session_rank(l.typ));
        for l in session {
            push_line(&mut out, l.typ, &l.value);
        }
        for m in &self.media {
            push_line(&mut out, 'm', &m.m_value());
            let mut lines: Vec<&SdpLine> = m.lines.iter().collect();
            lines.sort_by_key(|l| media_rank(l.typ));
            for l in lines {
                push_line(&mut out, l.typ, &l.value);
            }
        }
        out
    }

    /// The first session-level line of type `t`.
    pub fn session_line(&self, t: char) -> Option<&str> {
        self.session
            .iter()
            .find(|l| l.typ == t)
            .map(|l| l.value.as_str())
    }

    /// Index of the first media section with `media == "audio"`.
    pub fn first_audio(&self) -> Option<usize> {
        self.media.iter().position(|m| m.media == "audio")
    }
}

fn push_line(out: &mut String, t: char, value: &str) {
    out.push(t);
    out.push('=');
    out.push_str(value);
    out.push_str("\r\n");
}

/// Normalise line ends to CRLF (ending with CRLF) without any other change;
/// used as a fallback when text cannot be parsed.
pub fn to_crlf(text: &str) -> String {
    let mut out = String::new();
    for l in split_lines(text) {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = "v=0\no=- 1 2 IN IP4 127.0.0.1  \r\ns=-\nt=0 0\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\na=mid:0\na=sendrecv\na=rtpmap:111 opus/48000/2\n";

    #[test]
    fn parses_sections_and_attributes() {
        let sdp = Sdp::parse(SIMPLE).unwrap();
        assert_eq!(sdp.session.len(), 5);
        assert_eq!(sdp.media.len(), 1);
        let m = &sdp.media[0];
        assert_eq!(m.media, "audio");
        assert_eq!(m.port_number(), 9);
        assert_eq!(m.proto, "UDP/TLS/RTP/SAVPF");
        assert_eq!(m.fmts, vec!["111", "0"]);
        assert_eq!(m.attr("mid"), Some("0"));
        assert_eq!(m.attr("sendrecv"), Some(""));
        assert_eq!(m.attr("nope"), None);
        assert_eq!(m.connection(), Some("IN IP4 0.0.0.0"));
        assert_eq!(sdp.session.attr("group"), Some("BUNDLE 0"));
        assert_eq!(sdp.first_audio(), Some(0));
    }

    #[test]
    fn set_remove_push() {
        let mut sdp = Sdp::parse(SIMPLE).unwrap();
        let m = &mut sdp.media[0];
        m.push_attr("mid", Some("x"));
        m.set_attr("mid", Some("1"));
        assert_eq!(m.attrs("mid"), vec!["1"]);
        m.set_attr("rtcp-mux", None);
        assert!(m.has_attr("rtcp-mux"));
        assert_eq!(m.remove_attrs("rtcp-mux"), 1);
        assert!(!m.has_attr("rtcp-mux"));
    }

    #[test]
    fn output_is_crlf_and_ordered() {
        let sdp = Sdp::parse("v=0\na=foo\nt=0 0\ns=-\no=- 1 1 IN IP4 1.2.3.4\nm=audio 1 RTP/AVP 0\na=x\nc=IN IP4 1.2.3.4\n").unwrap();
        let s = sdp.to_sdp_string();
        assert_eq!(
            s,
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=foo\r\nm=audio 1 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\na=x\r\n"
        );
    }

    #[test]
    fn rejects_garbage_and_bad_m_lines() {
        assert!(Sdp::parse("").is_err());
        assert!(Sdp::parse("hello world").is_err());
        assert!(Sdp::parse("v=1\n").is_err());
        assert!(Sdp::parse("v=0\nm=audio\n").is_err());
        assert!(Sdp::parse("v=0\nm=audio x RTP/AVP 0\n").is_err());
        assert!(Sdp::parse("v=0\nm=audio 1 RTP//AVP 0\n").is_err());
        // non-ASCII and odd bytes never panic
        assert!(Sdp::parse("v=0\né=ü\nm=audio 1 RTP/AVP 0\n=\na\n").is_ok());
    }

    #[test]
    fn to_crlf_fallback() {
        assert_eq!(to_crlf("a\nb \r\n\n"), "a\r\nb\r\n");
    }
}
