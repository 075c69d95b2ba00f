//! When the transport ends while the connection is open, and how we say so.
//!
//! A far end that hangs up sends an RTCP BYE and a DTLS `close_notify`
//! (browsers, aiortc, and sipwire's own `close()`); rtc 0.21.1 answers the
//! `close_notify` but changes no state, so without this a hang-up was noticed
//! only when ICE consent ran out (`disconnected` ~4 s, `failed` ~30 s).
//!
//! What sipwire reports, and why (W3C names the states, not this case):
//! - `close_notify` received: the DTLS transport is `closed` (W3C
//!   `RTCDtlsTransportState`), so media can never flow again without a new
//!   negotiation. The connection goes `failed`, the one W3C state that means
//!   exactly that (`closed` is reserved for our own `close()`, after which the
//!   object is unusable), preceded by a `warning` with code
//!   [`REMOTE_CLOSED`] so an application can tell a hang-up from a fault.
//! - RTCP BYE for the source we receive: a BYE alone is not a hang-up
//!   (Chromium sends one whenever it stops sending, e.g. when put on hold),
//!   so it starts a short consent probe (RFC 7675): a few STUN Binding
//!   requests on the media path. Any answer means the far end is alive; none
//!   within [`PROBE_WAIT`] means it is gone, reported like `close_notify`.
//! - Wrong certificate (not matching `a=fingerprint`): the DTLS transport is
//!   `failed` (W3C: "failure to validate the remote fingerprint"), so the
//!   connection is `failed`, with code [`DTLS_FINGERPRINT`] (RFC 8842 §5: a
//!   mismatch ends the session).
//!
//! In each case the transport is torn down (our BYE and `close_notify` are
//! sent) and nothing more is read from the network; the application still
//! calls `close()`. Pure state: time and addresses come in as arguments.

use crate::early_checks::{EarlyChecks, Kept};
use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{Message, Setter, TransactionId, BINDING_REQUEST, CLASS_REQUEST};
use rtc::stun::textattrs::Username;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `warning` code: the far end hung up (DTLS `close_notify`, a fatal DTLS
/// alert during the handshake, or RTCP BYE followed by silence).
pub const REMOTE_CLOSED: &str = "remote-closed";
/// `warning` code: the far end's DTLS certificate does not match its SDP.
pub const DTLS_FINGERPRINT: &str = "dtls-fingerprint-mismatch";

/// Consent probe after a BYE: this many requests, this far apart, and the
/// verdict this long after the first (well inside the 1 s the issue asks for,
/// and long enough for a loaded peer to answer once).
const PROBE_SENDS: u32 = 4;
const PROBE_GAP: Duration = Duration::from_millis(150);
/// How long after a BYE the far end has to answer a consent probe.
pub const PROBE_WAIT: Duration = Duration::from_millis(700);

/// ICE credentials and role for a consent probe.
#[derive(Clone, Debug)]
pub struct ProbeCredentials {
    /// Our `a=ice-ufrag`.
    pub local_ufrag: String,
    /// The far end's `a=ice-ufrag`.
    pub remote_ufrag: String,
    /// The far end's `a=ice-pwd`.
    pub remote_pwd: String,
    /// Whether we are the controlling agent (we made the first offer).
    pub controlling: bool,
    /// ICE tie-breaker for the probe's ICE-CONTROLLING/CONTROLLED
    /// attribute; drawn by the peer from its [`crate::identity::Entropy`].
    pub tie_breaker: u64,
}

impl ProbeCredentials {
    /// From our and the far end's SDP.
    pub fn from_sdp(local_sdp: &str, remote_sdp: &str, controlling: bool) -> Option<Self> {
        let attr = |sdp: &str, name: &str| {
            sdp.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        Some(ProbeCredentials {
            local_ufrag: attr(local_sdp, "a=ice-ufrag:")?,
            remote_ufrag: attr(remote_sdp, "a=ice-ufrag:")?,
            remote_pwd: attr(remote_sdp, "a=ice-pwd:")?,
            controlling,
            tie_breaker: 0,
        })
    }
}

struct Probe {
    local: SocketAddr,
    remote: SocketAddr,
    tid: TransactionId,
    raw: Vec<u8>,
    started: Instant,
    next_send: Instant,
    sent: u32,
}

/// Per-connection hang-up state (owned by [`crate::peer::Peer`]).
#[derive(Default)]
pub struct Hangup {
    early: Option<EarlyChecks>,
    early_dtls: Vec<Kept>,
    down: Option<&'static str>,
    controlling: Option<bool>,
    media_path: Option<(SocketAddr, SocketAddr)>,
    probe: Option<Probe>,
}

impl Hangup {
    /// Our first offer was applied: answer early checks for its credentials.
    pub fn arm_early_checks(&mut self, offer_sdp: &str) {
        self.early = EarlyChecks::from_sdp(offer_sdp);
        self.controlling.get_or_insert(true);
    }

    /// We answered the first offer: we are the controlled agent.
    pub fn answered_first(&mut self) {
        self.controlling.get_or_insert(false);
    }

    /// The offer was rolled back.
    pub fn disarm_early_checks(&mut self) {
        self.early = None;
        if self.down.is_none() {
            self.controlling = None;
        }
    }

    /// Before the answer: `Some(response)` for a check we answered,
    /// `Some(None)` for other STUN or early DTLS (held back from rtc, which
    /// would drop it), `None` when the datagram is rtc's to handle.
    pub fn early_check(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Option<Option<Vec<u8>>> {
        let e = self.early.as_mut()?;
        if !rtc::stun::message::is_stun_message(data) {
            return e.keep_dtls(local, remote, data).then_some(None);
        }
        Some(e.handle(local, remote, data))
    }

    /// The answer was applied: the checks to replay into rtc now. Early DTLS
    /// records wait for [`Hangup::take_early_dtls`]: rtc drops all but STUN
    /// until its ICE has selected a pair.
    pub fn take_early_checks(&mut self) -> Vec<Kept> {
        let all = self.early.take().map(|mut e| e.take()).unwrap_or_default();
        let (stun, dtls) = all
            .into_iter()
            .partition(|(_, _, d)| rtc::stun::message::is_stun_message(d));
        self.early_dtls = dtls;
        stun
    }

    /// Early DTLS records to replay once ICE is connected.
    pub fn take_early_dtls(&mut self) -> Vec<Kept> {
        std::mem::take(&mut self.early_dtls)
    }

    /// Whether early DTLS records wait for ICE.
    pub fn has_early_dtls(&self) -> bool {
        !self.early_dtls.is_empty()
    }

    /// Record the transport as gone for `code`; false if it already was.
    pub fn mark_down(&mut self, code: &'static str) -> bool {
        if self.down.is_some() {
            return false;
        }
        self.down = Some(code);
        self.probe = None;
        true
    }

    /// True once the transport was torn down.
    pub fn is_down(&self) -> bool {
        self.down.is_some()
    }

    /// Media (RTP/RTCP) arrived on this path: where a consent probe goes.
    pub fn media_from(&mut self, local: SocketAddr, remote: SocketAddr) {
        if self.media_path != Some((local, remote)) {
            self.media_path = Some((local, remote));
        }
    }

    /// The far end sent an RTCP BYE for the stream we receive: start a
    /// consent probe unless one runs or we cannot build one.
    pub fn on_bye(&mut self, now: Instant, creds: Option<ProbeCredentials>) {
        if self.down.is_some() || self.probe.is_some() {
            return;
        }
        let (Some((local, remote)), Some(mut creds)) = (self.media_path, creds) else {
            return;
        };
        if let Some(c) = self.controlling {
            creds.controlling = c;
        }
        let Some((tid, raw)) = probe_request(&creds) else {
            return;
        };
        self.probe = Some(Probe {
            local,
            remote,
            tid,
            raw,
            started: now,
            next_send: now,
            sent: 0,
        });
    }

    /// `Some(true)` when `data` answers our consent probe (any response with
    /// its transaction id: even an error proves the far end is there).
    pub fn probe_answer(&mut self, data: &[u8]) -> bool {
        let Some(p) = self.probe.as_ref() else {
            return false;
        };
        if !rtc::stun::message::is_stun_message(data) || data.len() < 20 {
            return false;
        }
        let mut m = Message {
            raw: data.to_vec(),
            ..Message::default()
        };
        if m.decode().is_err() || m.typ.class == CLASS_REQUEST || m.transaction_id != p.tid {
            return false;
        }
        self.probe = None;
        true
    }

    /// When [`Hangup::poll`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let p = self.probe.as_ref()?;
        Some(if p.sent < PROBE_SENDS {
            p.next_send
        } else {
            p.started + PROBE_WAIT
        })
    }

    /// Advance the probe: requests to send (our socket, destination, bytes),
    /// and whether the far end has now been silent for [`PROBE_WAIT`].
    pub fn poll(&mut self, now: Instant) -> (Vec<(SocketAddr, SocketAddr, Vec<u8>)>, bool) {
        let mut out = Vec::new();
        let Some(p) = self.probe.as_mut() else {
            return (out, false);
        };
        while p.sent < PROBE_SENDS && p.next_send <= now {
            out.push((p.local, p.remote, p.raw.clone()));
            p.sent += 1;
            p.next_send += PROBE_GAP;
        }
        let gone = now >= p.started + PROBE_WAIT;
        if gone {
            self.probe = None;
        }
        (out, gone)
    }
}

/// An RFC 7675 consent check: a Binding request the far end's ICE agent
/// answers like any connectivity check.
fn probe_request(c: &ProbeCredentials) -> Option<(TransactionId, Vec<u8>)> {
    let crypto = rtc::crypto::default_provider().ok()?;
    let tid = TransactionId::new();
    let role: Box<dyn Setter> = if c.controlling {
        Box::new(rtc::ice::attributes::control::AttrControlling(
            c.tie_breaker,
        ))
    } else {
        Box::new(rtc::ice::attributes::control::AttrControlled(c.tie_breaker))
    };
    let mut m = Message::new();
    m.build(&[
        Box::new(BINDING_REQUEST),
        Box::new(tid),
        Box::new(Username::new(
            ATTR_USERNAME,
            format!("{}:{}", c.remote_ufrag, c.local_ufrag),
        )),
        role,
        Box::new(rtc::ice::attributes::priority::PriorityAttr(
            (110u32 << 24) | (65535 << 8) | 255,
        )),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            c.remote_pwd.clone(),
            crypto.crypto(),
        )),
        Box::new(FINGERPRINT),
    ])
    .ok()?;
    Some((tid, m.raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> ProbeCredentials {
        ProbeCredentials::from_sdp(
            "a=ice-ufrag:mine\r\na=ice-pwd:0123456789abcdefghijkl\r\n",
            "a=ice-ufrag:theirs\r\na=ice-pwd:abcdefghijkl0123456789\r\n",
            true,
        )
        .unwrap()
    }

    #[test]
    fn bye_then_silence_is_a_hangup_within_probe_wait() {
        let t0 = Instant::now();
        let mut h = Hangup::default();
        let (l, r) = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        h.on_bye(t0, Some(creds()));
        assert!(h.poll_timeout().is_none(), "no media path yet: no probe");
        h.media_from(l, r);
        h.on_bye(t0, Some(creds()));
        let (sent, gone) = h.poll(t0);
        assert_eq!((sent.len(), gone), (1, false));
        assert_eq!((sent[0].0, sent[0].1), (l, r));
        let mut total = 1;
        let t = loop {
            let t = h.poll_timeout().unwrap();
            let (s, gone) = h.poll(t);
            total += s.len();
            if gone {
                break t;
            }
        };
        assert_eq!(total, PROBE_SENDS as usize);
        assert_eq!(t, t0 + PROBE_WAIT);
        assert!(h.poll_timeout().is_none());
    }

    #[test]
    fn any_answer_to_the_probe_cancels_it() {
        let t0 = Instant::now();
        let mut h = Hangup::default();
        h.media_from(
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        h.on_bye(t0, Some(creds()));
        let (sent, _) = h.poll(t0);
        let mut req = Message {
            raw: sent[0].2.clone(),
            ..Message::default()
        };
        req.decode().unwrap();
        let mut resp = Message::new();
        resp.build(&[
            Box::new(req.clone()),
            Box::new(rtc::stun::message::BINDING_SUCCESS),
        ])
        .unwrap();
        assert!(!h.probe_answer(&sent[0].2), "our own request is no answer");
        assert!(h.probe_answer(&resp.raw));
        assert!(h.poll_timeout().is_none());
        assert!(!h.poll(t0 + PROBE_WAIT).1);
    }
}
