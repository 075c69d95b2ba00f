//! Answering a connectivity check with our own credentials, without an ICE
//! agent: the part that [`crate::early_checks`] (checks before the answer)
//! and [`crate::ice_lite`] (plain profiles) share. Sans-IO.

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{Message, BINDING_REQUEST, BINDING_SUCCESS};
use rtc::stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;
use std::sync::Arc;

/// `data` decoded when it is a STUN Binding request, else `None`.
pub(crate) fn binding_request(data: &[u8]) -> Option<Message> {
    if !rtc::stun::message::is_stun_message(data) {
        return None;
    }
    let mut m = Message {
        raw: data.to_vec(),
        ..Message::default()
    };
    m.decode().ok()?;
    (m.typ == BINDING_REQUEST).then_some(m)
}

/// The Binding success response to `request` from `remote`, when its
/// USERNAME starts with our `ufrag` and its MESSAGE-INTEGRITY verifies under
/// our `pwd` (RFC 8445 §7.3: only our own credentials are needed); `None`
/// for a check that is not ours.
pub(crate) fn answer(
    request: &mut Message,
    remote: SocketAddr,
    ufrag: &str,
    pwd: &str,
    crypto: &Arc<dyn RTCCryptoProvider>,
) -> Option<Vec<u8>> {
    let user = request.get(ATTR_USERNAME).ok()?;
    let (ours, _theirs) = std::str::from_utf8(&user).ok()?.split_once(':')?;
    if ours != ufrag {
        return None;
    }
    MessageIntegrity::check(request, pwd.as_bytes(), crypto.crypto()).ok()?;
    let mut out = Message::new();
    out.build(&[
        Box::new(request.clone()),
        Box::new(BINDING_SUCCESS),
        Box::new(XorMappedAddress {
            ip: remote.ip(),
            port: remote.port(),
        }),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            pwd.to_owned(),
            crypto.crypto(),
        )),
        Box::new(FINGERPRINT),
    ])
    .ok()?;
    Some(out.raw)
}
