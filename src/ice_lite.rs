//! ICE-lite (RFC 8445 §2.5) for the plain profiles, when we answer an
//! offer that carries ICE (`a=ice-ufrag`/`a=ice-pwd`/`a=candidate` on
//! RTP/AVP or RTP/SAVP, no DTLS).
//!
//! An answer without ICE attributes is a correct answer to such an offer
//! (RFC 8445 §5.1.3: the offerer then sends to `c=`/`m=`), but not every
//! offerer falls back well: baresip with `medianat=ice`, for one, then sends
//! no media at all, and an offer's `c=` is only its default candidate (often
//! a server-reflexive address that does not reach it from inside its own
//! network). So we answer as an ICE-lite agent: `a=ice-lite`, our
//! credentials and a host candidate per component, and we answer the full
//! agent's connectivity checks. We send no checks and keep no check list:
//! the full agent is controlling and nominates (RFC 8445 §6.1.1, §7.3.1).
//! A nominated check moves the media to the address it came from, which is
//! safe because the check carries MESSAGE-INTEGRITY under our password, sent
//! only in our SDP; consent refreshes (RFC 7675) are answered the same way.
//!
//! Sans-IO: datagrams in, responses out.
//!
//! ```
//! use sipwire::ice_lite::IceLite;
//! let mut ice = IceLite::new("theirs".into());
//! assert!(ice.ufrag().len() >= 4 && ice.pwd().len() >= 22);
//! assert!(ice.handle("127.0.0.1:4000".parse().unwrap(), b"not stun").is_none());
//! ```

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::{ATTR_PRIORITY, ATTR_USE_CANDIDATE};
use std::net::SocketAddr;
use std::sync::Arc;

/// The far end's ICE in a plain SDP: `a=ice-ufrag` and `a=ice-pwd` (media
/// level, else session level) and session-level `a=ice-lite`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteIce {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
    /// The far end is ICE-lite too.
    pub lite: bool,
}

/// Our ICE-lite lines in a plain answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalIce {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
    /// Components to list a host candidate for: 1, or 2 without rtcp-mux
    /// (RTCP's candidate is the RTP socket too: we take RTCP there, `a=rtcp`).
    pub components: u16,
}

/// A connectivity check we answered.
#[derive(Debug)]
pub struct Check {
    /// The Binding success response to send back to the check's source.
    pub response: Vec<u8>,
    /// The check carried USE-CANDIDATE: its source is where media goes now.
    pub nominated: bool,
    /// 1 for RTP, 2 for RTCP, from PRIORITY's low byte (256 - component,
    /// RFC 8445 §5.1.2.1); 1 when it says otherwise.
    pub component: u16,
}

/// The ICE-lite side of one call.
pub struct IceLite {
    ufrag: String,
    pwd: String,
    remote_ufrag: String,
    crypto: Option<Arc<dyn RTCCryptoProvider>>,
    /// Checks answered so far.
    pub answered: u64,
}

fn random_ice_chars(n: usize) -> String {
    // RFC 8839 §5.4 ice-char: ALPHA / DIGIT / "+" / "/".
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..n)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

/// True when `data` looks like a STUN message (RFC 7983: first byte 0-3,
/// magic cookie).
pub fn is_stun(data: &[u8]) -> bool {
    rtc::stun::message::is_stun_message(data)
}

/// `a=candidate` priority of a host candidate for `component` (RFC 8445
/// §5.1.2.1: type preference 126, local preference 65535).
pub fn host_priority(component: u16) -> u32 {
    (126 << 24) | (65535 << 8) | (256 - u32::from(component.clamp(1, 255)))
}

impl IceLite {
    /// Fresh credentials for an offer whose `a=ice-ufrag` is `remote_ufrag`.
    pub fn new(remote_ufrag: String) -> Self {
        IceLite {
            ufrag: random_ice_chars(8),
            pwd: random_ice_chars(24),
            remote_ufrag,
            crypto: rtc::crypto::default_provider().ok(),
            answered: 0,
        }
    }

    /// Our `a=ice-ufrag`.
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    /// Our `a=ice-pwd`.
    pub fn pwd(&self) -> &str {
        &self.pwd
    }

    /// The far end's `a=ice-ufrag` these credentials answer (a new one is an
    /// ICE restart, RFC 8445 §9, and gets new credentials).
    pub fn remote_ufrag(&self) -> &str {
        &self.remote_ufrag
    }

    /// A datagram from `remote`: for a Binding request to us that passes
    /// USERNAME and MESSAGE-INTEGRITY, the response and what it nominates;
    /// `None` for anything else (the caller drops it).
    pub fn handle(&mut self, remote: SocketAddr, data: &[u8]) -> Option<Check> {
        let mut m = crate::stun_answer::binding_request(data)?;
        let crypto = self.crypto.as_ref()?;
        let response = crate::stun_answer::answer(&mut m, remote, &self.ufrag, &self.pwd, crypto)?;
        let component = m
            .get(ATTR_PRIORITY)
            .ok()
            .filter(|p| p.len() == 4)
            .map(|p| 256 - u16::from(p[3]))
            .filter(|c| *c == 2)
            .unwrap_or(1);
        let nominated = m.contains(ATTR_USE_CANDIDATE);
        self.answered += 1;
        Some(Check {
            response,
            nominated,
            component,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rtc::stun::attributes::ATTR_USERNAME;
    use rtc::stun::fingerprint::FINGERPRINT;
    use rtc::stun::integrity::MessageIntegrity;
    use rtc::stun::message::{Getter, Setter, TransactionId};
    use rtc::stun::message::{Message, BINDING_REQUEST, BINDING_SUCCESS};
    use rtc::stun::textattrs::Username;
    use rtc::stun::xoraddr::XorMappedAddress;

    struct Prio(u32);
    impl Setter for Prio {
        fn add_to(&self, m: &mut Message) -> rtc::shared::error::Result<()> {
            m.add(ATTR_PRIORITY, &self.0.to_be_bytes());
            Ok(())
        }
    }
    struct UseCandidate;
    impl Setter for UseCandidate {
        fn add_to(&self, m: &mut Message) -> rtc::shared::error::Result<()> {
            m.add(ATTR_USE_CANDIDATE, &[]);
            Ok(())
        }
    }

    /// A Binding request as a full agent sends it (also used by the plain
    /// transport's tests).
    pub(crate) fn check(user: &str, pwd: &str, prio: u32, nominate: bool) -> Vec<u8> {
        let crypto = rtc::crypto::default_provider().unwrap();
        let mut m = Message::new();
        let mut attrs: Vec<Box<dyn Setter + '_>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(TransactionId::new()),
            Box::new(Username::new(ATTR_USERNAME, user.into())),
            Box::new(Prio(prio)),
        ];
        if nominate {
            attrs.push(Box::new(UseCandidate));
        }
        attrs.push(Box::new(
            MessageIntegrity::new_short_term_integrity_with_provider(pwd.into(), crypto.crypto()),
        ));
        attrs.push(Box::new(FINGERPRINT));
        m.build(&attrs).unwrap();
        m.raw
    }

    #[test]
    fn answers_checks_under_our_credentials_with_the_source_address() {
        let mut ice = IceLite::new("wxyz".into());
        let from: SocketAddr = "10.0.0.7:5002".parse().unwrap();
        let user = format!("{}:wxyz", ice.ufrag());
        let pwd = ice.pwd().to_string();
        let c = ice
            .handle(from, &check(&user, &pwd, host_priority(1), false))
            .expect("answered");
        assert!(!c.nominated);
        assert_eq!(c.component, 1);
        let mut m = Message {
            raw: c.response,
            ..Message::default()
        };
        m.decode().unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        let crypto = rtc::crypto::default_provider().unwrap();
        MessageIntegrity::check(&mut m, pwd.as_bytes(), crypto.crypto()).unwrap();
        let mut xor = XorMappedAddress::default();
        xor.get_from(&m).unwrap();
        assert_eq!((xor.ip, xor.port), (from.ip(), from.port()));
        // RTCP's component, nominated.
        let c = ice
            .handle(from, &check(&user, &pwd, host_priority(2), true))
            .unwrap();
        assert!(c.nominated);
        assert_eq!(c.component, 2);
        assert_eq!(ice.answered, 2);
    }

    #[test]
    fn wrong_ufrag_wrong_password_and_non_requests_are_dropped() {
        let mut ice = IceLite::new("wxyz".into());
        let from: SocketAddr = "10.0.0.7:5002".parse().unwrap();
        let pwd = ice.pwd().to_string();
        assert!(ice
            .handle(from, &check("nope:wxyz", &pwd, 1, true))
            .is_none());
        let user = format!("{}:wxyz", ice.ufrag());
        assert!(ice
            .handle(from, &check(&user, "the-wrong-password-0000", 1, true))
            .is_none());
        assert!(ice.handle(from, &[0x80, 0, 0, 1, 0, 0, 0, 0]).is_none());
        assert!(ice.handle(from, &[0u8; 20]).is_none());
        assert_eq!(ice.answered, 0);
        assert_eq!(host_priority(1), 2_130_706_431);
    }
}
