//! One DTLS certificate shared by every connection of the process, the way a
//! browser keeps one per origin. rtc otherwise generates a fresh ECDSA key and
//! X.509 certificate per connection, which is pure setup cost for a bot that
//! opens hundreds of calls. Regenerated when less than a day of validity is left.

use crate::error::{Error, Result};
use rtc::crypto::SignatureScheme;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

static SHARED: Mutex<Option<RTCCertificate>> = Mutex::new(None);
const MIN_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// The shared certificate, generated on first use.
pub fn shared() -> Result<RTCCertificate> {
    let mut slot = SHARED
        .lock()
        .map_err(|_| Error::Rtc("certificate lock poisoned".into()))?;
    // Wall clock is right here: X.509 validity is wall-clock time.
    let fresh = slot.as_ref().is_some_and(|c| {
        c.expires
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > MIN_VALIDITY)
    });
    if !fresh {
        let provider = rtc::crypto::default_provider().map_err(|e| Error::Rtc(e.to_string()))?;
        let params = CertificateParams::new(vec!["sipwire".to_owned()])
            .map_err(|e| Error::Rtc(e.to_string()))?;
        let cert =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)?;
        *slot = Some(cert);
    }
    slot.clone()
        .ok_or_else(|| Error::Rtc("no certificate".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_certificate_is_reused() {
        let a = super::shared().unwrap();
        let b = super::shared().unwrap();
        assert_eq!(a, b);
        assert!(a.expires > std::time::SystemTime::now() + super::MIN_VALIDITY);
    }
}
