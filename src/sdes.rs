//! SDES key exchange for SRTP (RFC 4568): `a=crypto` lines, the choice among
//! several offered suites, key generation, and the SRTP contexts they key.
//!
//! Keys never appear in `Debug` output or log lines: [`CryptoAttr`]'s
//! `Debug` shows the tag and suite only. The crypto itself is rtc's SRTP
//! (`rtc::srtp`); this module only parses, chooses and keys.
//!
//! ```
//! use sipwire::sdes::{CryptoAttr, Suite};
//! let mut n = 0u8;
//! let ours = CryptoAttr::generate(1, Suite::AesCm128HmacSha1_80, &mut |b: &mut [u8]| {
//!     for x in b.iter_mut() { n = n.wrapping_add(1); *x = n; }
//! });
//! let line = ours.to_value();
//! assert!(line.starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"));
//! assert_eq!(CryptoAttr::parse(&line).unwrap().suite, Suite::AesCm128HmacSha1_80);
//! ```

use base64::Engine;
use rtc::srtp::context::Context;
use rtc::srtp::protection_profile::ProtectionProfile;

/// A crypto suite we support, in our order of preference (strongest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suite {
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
    /// `AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568), the one every SDES peer has.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568).
    AesCm128HmacSha1_32,
}

impl Suite {
    /// Every supported suite, most preferred first (the order of our offers).
    pub const ALL: [Suite; 4] = [
        Suite::AeadAes256Gcm,
        Suite::AeadAes128Gcm,
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
    ];

    /// The RFC name.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// From the RFC name (case-insensitive); `None` for suites we lack.
    pub fn from_name(s: &str) -> Option<Suite> {
        Suite::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
            Suite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        self.profile().key_len()
    }

    /// Master salt length in bytes (14 for AES-CM, 12 for GCM).
    pub fn salt_len(self) -> usize {
        self.profile().salt_len()
    }
}

/// One usable `a=crypto` line: tag, suite and the inline master key + salt.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoAttr {
    /// The tag that pairs an answer's line with the offer's.
    pub tag: u32,
    /// The suite.
    pub suite: Suite,
    /// Master key followed by master salt.
    key_salt: Vec<u8>,
}

impl std::fmt::Debug for CryptoAttr {
    // Keys must not reach any log: Debug shows tag and suite only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CryptoAttr({} {} inline:<redacted>)",
            self.tag,
            self.suite.name()
        )
    }
}

/// Why an `a=crypto` line is not usable (for warnings; never carries a key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CryptoLineError {
    /// Not `tag suite key-params`.
    Malformed,
    /// A suite we do not implement (named here).
    UnknownSuite(String),
    /// Key method other than `inline`, bad base64 or wrong length.
    BadKey,
    /// An MKI or a session parameter (e.g. `UNENCRYPTED_SRTP`, `KDR`) we do
    /// not implement: RFC 4568 §6.3 says such a line must not be chosen.
    Unsupported(String),
}

impl std::fmt::Display for CryptoLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CryptoLineError::Malformed => write!(f, "malformed a=crypto line"),
            CryptoLineError::UnknownSuite(s) => write!(f, "unsupported crypto suite {s}"),
            CryptoLineError::BadKey => write!(f, "a=crypto key is not a valid inline key"),
            CryptoLineError::Unsupported(s) => write!(f, "a=crypto with unsupported {s}"),
        }
    }
}

impl CryptoAttr {
    /// A fresh key for `suite` with tag `tag`; `fill` supplies the random
    /// bytes (a CSPRNG in production, anything deterministic in tests).
    pub fn generate(tag: u32, suite: Suite, fill: &mut dyn FnMut(&mut [u8])) -> CryptoAttr {
        let mut key_salt = vec![0u8; suite.key_len() + suite.salt_len()];
        fill(&mut key_salt);
        CryptoAttr {
            tag,
            suite,
            key_salt,
        }
    }

    /// Parse the value of an `a=crypto:` attribute (after `crypto:`).
    pub fn parse(value: &str) -> Result<CryptoAttr, CryptoLineError> {
        let mut it = value.split_whitespace();
        let tag = it
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| *t < 1_000_000_000)
            .ok_or(CryptoLineError::Malformed)?;
        let suite_name = it.next().ok_or(CryptoLineError::Malformed)?;
        let suite = Suite::from_name(suite_name).ok_or_else(|| {
            let mut shown: String = suite_name.chars().take(40).collect();
            shown.retain(|c| c.is_ascii_graphic());
            CryptoLineError::UnknownSuite(shown)
        })?;
        let key_params = it.next().ok_or(CryptoLineError::Malformed)?;
        if let Some(p) = it.next() {
            // Session parameters: none is implemented, so the line is unusable.
            let name: String = p.split('=').next().unwrap_or("").chars().take(24).collect();
            return Err(CryptoLineError::Unsupported(format!(
                "session parameter {name}"
            )));
        }
        // Several key-params (";"-separated) are for key rotation with MKIs.
        let first = key_params.split(';').next().unwrap_or("");
        let inline = first
            .strip_prefix("inline:")
            .ok_or(CryptoLineError::BadKey)?;
        let mut parts = inline.split('|');
        let b64 = parts.next().unwrap_or("");
        for extra in parts {
            // A lifetime ("2^31" or a number) is advisory; an MKI changes
            // the packet format, which rtc's SRTP does not do.
            if extra.contains(':') {
                return Err(CryptoLineError::Unsupported("MKI".into()));
            }
        }
        let key_salt = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
            .map_err(|_| CryptoLineError::BadKey)?;
        if key_salt.len() != suite.key_len() + suite.salt_len() {
            return Err(CryptoLineError::BadKey);
        }
        Ok(CryptoAttr {
            tag,
            suite,
            key_salt,
        })
    }

    /// The attribute value: `tag SUITE inline:base64`.
    pub fn to_value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite.name(),
            base64::engine::general_purpose::STANDARD.encode(&self.key_salt)
        )
    }

    fn key(&self) -> &[u8] {
        &self.key_salt[..self.suite.key_len()]
    }

    fn salt(&self) -> &[u8] {
        &self.key_salt[self.suite.key_len()..]
    }
}

/// Every usable line of `values` (each the text after `a=crypto:`), with
/// the reasons the others were skipped.
pub fn parse_all<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> (Vec<CryptoAttr>, Vec<CryptoLineError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for v in values {
        match CryptoAttr::parse(v) {
            Ok(c) => ok.push(c),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// The best offered line: the strongest suite we implement (ties: the
/// offerer's order).
pub fn choose(offered: &[CryptoAttr]) -> Option<&CryptoAttr> {
    offered.iter().min_by_key(|c| c.suite)
}

/// Our `a=crypto` for an answer to `offered`: the suite [`choose`] picks,
/// with the tag of the offer's line. `current` (our key so far) is kept
/// while its suite stays, so packets in flight across a re-INVITE stay
/// readable; otherwise a fresh key from `fill`. `None`: nothing usable.
pub fn answer_key(
    offered: &[CryptoAttr],
    current: Option<&CryptoAttr>,
    fill: &mut dyn FnMut(&mut [u8]),
) -> Option<CryptoAttr> {
    let chosen = choose(offered)?;
    let mut ours = current
        .filter(|c| c.suite == chosen.suite)
        .cloned()
        .unwrap_or_else(|| CryptoAttr::generate(chosen.tag, chosen.suite, fill));
    ours.tag = chosen.tag;
    Some(ours)
}

/// SRTP/SRTCP contexts for one call: ours encrypts with our key, the other
/// decrypts with the remote's (RFC 4568 §6.1: each side sends with its own).
pub struct SrtpPair {
    tx: Context,
    rx: Context,
}

impl SrtpPair {
    /// Contexts for sending with `local` and receiving with `remote`; both
    /// must use the same suite.
    pub fn new(local: &CryptoAttr, remote: &CryptoAttr) -> crate::error::Result<SrtpPair> {
        let provider = rtc::crypto::default_provider()
            .map_err(|e| crate::error::Error::Rtc(format!("no SRTP crypto provider: {e}")))?;
        let crypto = provider.crypto();
        let make = |a: &CryptoAttr, replay: bool| {
            let (rtp, rtcp) = if replay {
                (
                    Some(rtc::srtp::option::srtp_replay_protection(64)),
                    Some(rtc::srtp::option::srtcp_replay_protection(64)),
                )
            } else {
                (None, None)
            };
            Context::new(a.key(), a.salt(), a.suite.profile(), rtp, rtcp, crypto)
                // rtc's errors name lengths, never key bytes.
                .map_err(|e| crate::error::Error::Rtc(format!("SRTP context: {e}")))
        };
        Ok(SrtpPair {
            tx: make(local, false)?,
            rx: make(remote, true)?,
        })
    }

    /// Protect an RTP packet.
    pub fn protect_rtp(&mut self, plain: &[u8]) -> Option<bytes::BytesMut> {
        self.tx.encrypt_rtp(plain).ok()
    }

    /// Protect an RTCP compound packet.
    pub fn protect_rtcp(&mut self, plain: &[u8]) -> Option<bytes::BytesMut> {
        self.tx.encrypt_rtcp(plain).ok()
    }

    /// Authenticate and decrypt an SRTP packet; `None` if it fails (wrong key,
    /// replay, garbage).
    pub fn unprotect_rtp(&mut self, data: &[u8]) -> Option<bytes::BytesMut> {
        self.rx.decrypt_rtp(data).ok()
    }

    /// Authenticate and decrypt an SRTCP packet.
    pub fn unprotect_rtcp(&mut self, data: &[u8]) -> Option<bytes::BytesMut> {
        self.rx.decrypt_rtcp(data).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(start: u8) -> impl FnMut(&mut [u8]) {
        let mut n = start;
        move |b: &mut [u8]| {
            for x in b.iter_mut() {
                n = n.wrapping_mul(31).wrapping_add(7);
                *x = n;
            }
        }
    }

    #[test]
    fn round_trip_every_suite() {
        for (i, s) in Suite::ALL.into_iter().enumerate() {
            let a = CryptoAttr::generate(i as u32 + 1, s, &mut counter(i as u8));
            let b = CryptoAttr::parse(&a.to_value()).unwrap();
            assert_eq!(a, b);
            assert_eq!(b.key_salt.len(), s.key_len() + s.salt_len());
        }
        assert_eq!(
            Suite::AeadAes256Gcm.key_len() + Suite::AeadAes256Gcm.salt_len(),
            44
        );
        assert_eq!(
            Suite::AesCm128HmacSha1_80.key_len() + Suite::AesCm128HmacSha1_80.salt_len(),
            30
        );
    }

    #[test]
    fn parses_what_peers_send() {
        // baresip / Asterisk style, with a lifetime.
        let v = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
        let c = CryptoAttr::parse(v).unwrap();
        assert_eq!((c.tag, c.suite), (1, Suite::AesCm128HmacSha1_80));
        // Lowercase suite name.
        assert!(CryptoAttr::parse(&v.replace("AES_CM", "aes_cm")).is_ok());
    }

    #[test]
    fn rejects_what_we_cannot_use() {
        let k = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        assert_eq!(
            CryptoAttr::parse(&format!("1 F8_128_HMAC_SHA1_80 {k}")),
            Err(CryptoLineError::UnknownSuite("F8_128_HMAC_SHA1_80".into()))
        );
        assert_eq!(
            CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {k}|2^20|1:4")),
            Err(CryptoLineError::Unsupported("MKI".into()))
        );
        assert!(matches!(
            CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {k} UNENCRYPTED_SRTP")),
            Err(CryptoLineError::Unsupported(_))
        ));
        // A 128-bit GCM key is shorter than AES-CM key+salt: wrong length.
        assert_eq!(
            CryptoAttr::parse(&format!("1 AEAD_AES_256_GCM {k}")),
            Err(CryptoLineError::BadKey)
        );
        assert_eq!(
            CryptoAttr::parse("1 AES_CM_128_HMAC_SHA1_80 uri:sip:x"),
            Err(CryptoLineError::BadKey)
        );
        assert_eq!(CryptoAttr::parse("x"), Err(CryptoLineError::Malformed));
        assert_eq!(CryptoAttr::parse(""), Err(CryptoLineError::Malformed));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let a = CryptoAttr::generate(3, Suite::AeadAes128Gcm, &mut counter(9));
        let shown = format!("{a:?}");
        let v = a.to_value();
        let b64 = v.rsplit(':').next().unwrap();
        assert!(!shown.contains(b64), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn chooses_the_strongest_common_suite() {
        let mut f = counter(1);
        let offered = vec![
            CryptoAttr::generate(1, Suite::AesCm128HmacSha1_32, &mut f),
            CryptoAttr::generate(2, Suite::AesCm128HmacSha1_80, &mut f),
            CryptoAttr::generate(3, Suite::AeadAes128Gcm, &mut f),
        ];
        assert_eq!(choose(&offered).unwrap().tag, 3);
        assert!(choose(&[]).is_none());
        let (ok, bad) = parse_all(["1 FOO inline:x", "x"]);
        assert!(ok.is_empty());
        assert_eq!(bad.len(), 2);
    }

    #[test]
    fn srtp_round_trip_and_wrong_key_fails() {
        for s in Suite::ALL {
            let a = CryptoAttr::generate(1, s, &mut counter(1));
            let b = CryptoAttr::generate(1, s, &mut counter(2));
            let mut alice = SrtpPair::new(&a, &b).unwrap();
            let mut bob = SrtpPair::new(&b, &a).unwrap();
            let mut eve = SrtpPair::new(&b, &b).unwrap();
            let mut rtp = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
            rtp.extend_from_slice(&[0x55; 160]);
            let wire = alice.protect_rtp(&rtp).unwrap();
            assert_ne!(&wire[12..172], &rtp[12..]);
            assert_eq!(&bob.unprotect_rtp(&wire).unwrap()[..], &rtp[..]);
            assert!(eve.unprotect_rtp(&wire).is_none(), "{s:?}");
            // A replay is refused.
            assert!(bob.unprotect_rtp(&wire).is_none());
            // RTCP RR with no blocks.
            let rtcp = [0x80, 201, 0, 1, 0xde, 0xad, 0xbe, 0xef];
            let w = alice.protect_rtcp(&rtcp).unwrap();
            assert_eq!(&bob.unprotect_rtcp(&w).unwrap()[..], &rtcp[..]);
        }
    }
}
