//! DTLS certificate check against the remote SDP's `a=fingerprint` lines
//! (RFC 8122 §5, RFC 8842 §5).
//!
//! Why ours and not rtc's: rtc 0.21.1 verifies inside the handshake and, on a
//! mismatch, only logs: its error is swallowed by the pipeline, the DTLS
//! transport never leaves `connecting`, and no event fires, so a call with a
//! wrong fingerprint hung forever. Checking here, when the handshake
//! completes and before any SRTP is read or written, lets the peer report
//! `failed` with a reason at once.
//!
//! ```
//! use sipwire::dtls_check::{verify, parse_fingerprints};
//! let fps = parse_fingerprints("a=fingerprint:sha-256 00:01\r\n");
//! assert_eq!(fps[0].0, "sha-256");
//! assert!(verify(b"certificate", &fps).is_err());
//! ```

use rtc::crypto::HashAlgorithm;

/// Every `a=fingerprint:` line of `sdp` (session and media level), as
/// (lower-case hash name, lower-case colon-separated hex value).
pub fn parse_fingerprints(sdp: &str) -> Vec<(String, String)> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=fingerprint:"))
        .filter_map(|v| {
            let mut it = v.split_whitespace();
            Some((
                it.next()?.to_ascii_lowercase(),
                it.next()?.to_ascii_lowercase(),
            ))
        })
        .collect()
}

/// The digest of `data` under the SDP hash name `alg`, or `None` when this
/// build cannot compute it.
pub fn digest(alg: &str, data: &[u8]) -> Option<Vec<u8>> {
    let provider = rtc::crypto::default_provider().ok()?;
    match alg {
        "sha-256" => provider.crypto().hash(HashAlgorithm::Sha256, data).ok(),
        _ => None,
    }
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Accept `cert_der` (the peer's end-entity certificate) when it matches one
/// of `fingerprints` whose hash we can compute; otherwise a message naming
/// what was expected and what was presented.
pub fn verify(cert_der: &[u8], fingerprints: &[(String, String)]) -> Result<(), String> {
    if fingerprints.is_empty() {
        return Err("the remote description has no a=fingerprint".into());
    }
    let mut presented = Vec::new();
    for (alg, value) in fingerprints {
        let Some(d) = digest(alg, cert_der) else {
            continue;
        };
        let got = hex_colon(&d);
        if &got == value {
            return Ok(());
        }
        presented.push(format!("{alg} {got}"));
    }
    if presented.is_empty() {
        return Err(format!(
            "no a=fingerprint with a supported hash ({})",
            fingerprints
                .iter()
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Err(format!(
        "the peer's DTLS certificate does not match the SDP: expected {}, got {}",
        fingerprints
            .iter()
            .map(|(a, v)| format!("{a} {v}"))
            .collect::<Vec<_>>()
            .join(" or "),
        presented.join(" / ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_any_listed_fingerprint_case_insensitively() {
        let cert = b"not really DER, any bytes hash";
        let good = hex_colon(&digest("sha-256", cert).unwrap()).to_ascii_uppercase();
        let sdp = format!(
            "v=0\r\na=fingerprint:SHA-256 00:11\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=fingerprint:SHA-256 {good}\r\n"
        );
        let fps = parse_fingerprints(&sdp);
        assert_eq!(fps.len(), 2);
        assert!(verify(cert, &fps).is_ok());
        let err = verify(cert, &fps[..1]).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn unsupported_or_missing_hash_is_an_error() {
        assert!(verify(b"x", &[]).is_err());
        let err = verify(b"x", &[("md2".into(), "00".into())]).unwrap_err();
        assert!(err.contains("md2"), "{err}");
    }
}
