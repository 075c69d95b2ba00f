//! Connectivity checks that arrive before the answer (RFC 8445 §7.3).
//!
//! When we offer, the answerer starts its checks as soon as it has our offer,
//! and in SIP those race the 200 OK through the proxy, so the first ones
//! usually arrive before we have applied the answer. rtc 0.21.1 drops a
//! Binding request while it has no remote credentials (`ErrPasswordEmpty` in
//! `Agent::handle_inbound`), and peers such as aioice then retry only after
//! their 500 ms RTO: half a second of every such call's setup.
//!
//! RFC 8445 §7.3: the agent "MUST immediately generate a response" (it needs
//! only its own password), and learns the peer-reflexive candidate for when
//! the answer arrives. So a request that passes our own USERNAME and
//! MESSAGE-INTEGRITY checks is answered here at once, and kept; the peer
//! replays the kept requests into rtc right after the answer is applied, so
//! rtc learns the (peer-reflexive or signalled) candidate and its pair as if
//! the request had just arrived. The replay makes rtc answer again with the
//! same transaction id, which the far end ignores as a duplicate (RFC 5389
//! §7.3.3).
//!
//! A far end whose check we answered may also start DTLS before we have the
//! answer (Chromium does, as the DTLS client, ~3 ms after our response); rtc
//! has no DTLS endpoint yet and would drop the ClientHello, which Chromium
//! then resends only ~100 ms later. DTLS records are kept too
//! ([`EarlyChecks::keep_dtls`]) and replayed after the checks.
//!
//! Pure state machine: datagrams in, datagrams out.
//!
//! ```
//! use sipwire::early_checks::EarlyChecks;
//! let mut e = EarlyChecks::new("ufrag".into(), "a-password-of-22-chars".into());
//! let l = "127.0.0.1:1000".parse().unwrap();
//! let r = "127.0.0.1:2000".parse().unwrap();
//! assert!(e.handle(l, r, b"not stun").is_none());
//! assert!(e.take().is_empty());
//! ```

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::ATTR_ICE_CONTROLLED;
use std::net::SocketAddr;
use std::sync::Arc;

/// At most this many early requests are kept for replay: a peer retrying
/// every 10-50 ms sends a handful before a normal answer arrives; the cap
/// bounds what a flood can make us hold.
const MAX_KEPT: usize = 32;

/// A kept request: (our socket, the sender, the datagram).
pub type Kept = (SocketAddr, SocketAddr, Vec<u8>);

/// Answers and keeps early Binding requests for one offer.
pub struct EarlyChecks {
    ufrag: String,
    pwd: String,
    kept: Vec<Kept>,
    crypto: Option<Arc<dyn RTCCryptoProvider>>,
    answered: u64,
}

impl EarlyChecks {
    /// For our offer's `a=ice-ufrag` / `a=ice-pwd`.
    pub fn new(ufrag: String, pwd: String) -> Self {
        EarlyChecks {
            ufrag,
            pwd,
            kept: Vec::new(),
            crypto: rtc::crypto::default_provider().ok(),
            answered: 0,
        }
    }

    /// Our credentials from an SDP we created (`a=ice-ufrag`, `a=ice-pwd`).
    pub fn from_sdp(sdp: &str) -> Option<Self> {
        let attr = |name: &str| {
            sdp.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        Some(Self::new(attr("a=ice-ufrag:")?, attr("a=ice-pwd:")?))
    }

    /// `data` arrived from `remote` on our socket `local` before the answer.
    /// For a valid Binding request to us, the success response to send back
    /// (the request is kept for [`EarlyChecks::take`]); `None` for anything
    /// else (which the caller drops, as rtc would).
    pub fn handle(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        let mut m = crate::stun_answer::binding_request(data)?;
        // RFC 8445 §7.3.1.1: only a controlled peer's check fits our role as
        // offerer (controlling); a role conflict is left to rtc, on replay.
        if !m.contains(ATTR_ICE_CONTROLLED) {
            self.keep(local, remote, data);
            return None;
        }
        let crypto = self.crypto.as_ref()?;
        let response = crate::stun_answer::answer(&mut m, remote, &self.ufrag, &self.pwd, crypto)?;
        self.keep(local, remote, data);
        self.answered += 1;
        Some(response)
    }

    /// A DTLS record (RFC 7983: first byte 20..=63) from a peer whose check
    /// we answered, held for replay; anything else before the answer is
    /// dropped, as rtc would.
    pub fn keep_dtls(&mut self, local: SocketAddr, remote: SocketAddr, data: &[u8]) -> bool {
        let ours = self
            .kept
            .iter()
            .any(|(l, r, _)| (*l, *r) == (local, remote));
        if ours && matches!(data.first(), Some(20..=63)) {
            self.keep(local, remote, data);
            return true;
        }
        false
    }

    fn keep(&mut self, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if self.kept.len() < MAX_KEPT {
            self.kept.push((local, remote, data.to_vec()));
        }
    }

    /// Requests answered here so far.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// The kept requests, oldest first, for replay into rtc.
    pub fn take(&mut self) -> Vec<Kept> {
        std::mem::take(&mut self.kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::stun::attributes::ATTR_USERNAME;
    use rtc::stun::fingerprint::FINGERPRINT;
    use rtc::stun::integrity::MessageIntegrity;
    use rtc::stun::message::{Getter, TransactionId};
    use rtc::stun::message::{Message, BINDING_REQUEST, BINDING_SUCCESS};
    use rtc::stun::textattrs::Username;
    use rtc::stun::xoraddr::XorMappedAddress;

    fn request(user: &str, pwd: &str, controlled: bool) -> Vec<u8> {
        let crypto = rtc::crypto::default_provider().unwrap();
        let mut m = Message::new();
        let mut attrs: Vec<Box<dyn rtc::stun::message::Setter + '_>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(TransactionId::new()),
            Box::new(Username::new(ATTR_USERNAME, user.into())),
        ];
        if controlled {
            attrs.push(Box::new(rtc::ice::attributes::control::AttrControlled(7)));
        }
        attrs.push(Box::new(
            MessageIntegrity::new_short_term_integrity_with_provider(pwd.into(), crypto.crypto()),
        ));
        attrs.push(Box::new(FINGERPRINT));
        m.build(&attrs).unwrap();
        m.raw
    }

    #[test]
    fn answers_a_valid_early_check_with_our_password_and_keeps_it() {
        let pwd = "0123456789abcdefghijkl";
        let mut e = EarlyChecks::new("abcd".into(), pwd.into());
        let (l, r) = (
            "127.0.0.1:1000".parse().unwrap(),
            "127.0.0.1:2000".parse().unwrap(),
        );
        let req = request("abcd:wxyz", pwd, true);
        let resp = e.handle(l, r, &req).expect("answered");
        let mut m = Message {
            raw: resp,
            ..Message::default()
        };
        m.decode().unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        let crypto = rtc::crypto::default_provider().unwrap();
        MessageIntegrity::check(&mut m, pwd.as_bytes(), crypto.crypto()).unwrap();
        let mut xor = XorMappedAddress::default();
        xor.get_from(&m).unwrap();
        assert_eq!((xor.ip, xor.port), (r.ip(), r.port()));
        assert_eq!(e.take(), vec![(l, r, req)]);
    }

    #[test]
    fn wrong_ufrag_or_password_is_not_answered() {
        let mut e = EarlyChecks::new("abcd".into(), "0123456789abcdefghijkl".into());
        let (l, r) = (
            "127.0.0.1:1000".parse().unwrap(),
            "127.0.0.1:2000".parse().unwrap(),
        );
        assert!(e
            .handle(l, r, &request("zzzz:wxyz", "0123456789abcdefghijkl", true))
            .is_none());
        assert!(e
            .handle(l, r, &request("abcd:wxyz", "another-password-000000", true))
            .is_none());
        assert!(e.take().is_empty());
    }
}
