//! DTLS certificate fingerprints (RFC 8122 §5): parse `a=fingerprint` values
//! and check the far end's certificate against them.
//!
//! rtc 0.21 verifies only `sha-256` (any other algorithm fails the handshake
//! with `ErrUnsupportedFingerprintAlgorithm`), but RFC 8122 allows sha-1,
//! sha-224, sha-256, sha-384 and sha-512, and real peers use them: Asterisk
//! behind rtpengine sends sha-1 only, mediasoup sha-512. So sipwire turns
//! rtc's check off and runs this one when the handshake completes, before any
//! media is read.
//!
//! # Example
//! ```
//! use sipwire::fingerprint::{digest, format_hex, verify, HashAlg, Fingerprint};
//! let der = b"not really a certificate";
//! let fp = Fingerprint::parse(&format!("sha-1 {}", format_hex(&digest(HashAlg::Sha1, der)))).unwrap();
//! assert!(verify(der, &[fp]).is_ok());
//! ```

/// A hash function RFC 8122 names for fingerprints (md5/md2 are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlg {
    /// `sha-1`
    Sha1,
    /// `sha-224`
    Sha224,
    /// `sha-256`
    Sha256,
    /// `sha-384`
    Sha384,
    /// `sha-512`
    Sha512,
}

impl HashAlg {
    /// Parse an SDP hash name, case-insensitively (`SHA-256` happens).
    pub fn parse(name: &str) -> Option<HashAlg> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sha-1" => HashAlg::Sha1,
            "sha-224" => HashAlg::Sha224,
            "sha-256" => HashAlg::Sha256,
            "sha-384" => HashAlg::Sha384,
            "sha-512" => HashAlg::Sha512,
            _ => return None,
        })
    }

    /// The SDP name, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha-1",
            HashAlg::Sha224 => "sha-224",
            HashAlg::Sha256 => "sha-256",
            HashAlg::Sha384 => "sha-384",
            HashAlg::Sha512 => "sha-512",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// One usable `a=fingerprint` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The hash function.
    pub alg: HashAlg,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// Parse `"<hash> <XX:XX:...>"` (the attribute value). `None` if the hash
    /// is not one of RFC 8122's, or the hex is malformed or of the wrong length.
    pub fn parse(attr_value: &str) -> Option<Fingerprint> {
        let mut it = attr_value.split_whitespace();
        let alg = HashAlg::parse(it.next()?)?;
        let hex = it.next()?;
        if it.next().is_some() {
            return None;
        }
        let value = hex
            .split(':')
            .map(|b| {
                if b.len() != 2 {
                    return None;
                }
                u8::from_str_radix(b, 16).ok()
            })
            .collect::<Option<Vec<u8>>>()?;
        (value.len() == alg.digest_len()).then_some(Fingerprint { alg, value })
    }

    /// The attribute value, `"<hash> <XX:XX:...>"` (upper-case hex).
    pub fn to_attr_value(&self) -> String {
        format!("{} {}", self.alg.as_str(), format_hex(&self.value))
    }
}

/// `AB:CD:...` as SDP writes digests.
pub fn format_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// The digest of `data` with `alg`.
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    use ring::digest as d;
    let ring_alg = match alg {
        HashAlg::Sha1 => &d::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &d::SHA256,
        HashAlg::Sha384 => &d::SHA384,
        HashAlg::Sha512 => &d::SHA512,
        // ring has no SHA-224.
        HashAlg::Sha224 => return sha224(data).to_vec(),
    };
    d::digest(ring_alg, data).as_ref().to_vec()
}

/// Check the far end's certificate (DER) against its fingerprints, as RFC
/// 8122 §5 says: take the set that uses the strongest hash offered and
/// require a match within it. `Err` says what did not match.
pub fn verify(cert_der: &[u8], fingerprints: &[Fingerprint]) -> Result<(), String> {
    let Some(best) = fingerprints.iter().map(|f| f.alg).max() else {
        return Err("the remote description has no usable a=fingerprint".into());
    };
    let ours = digest(best, cert_der);
    if fingerprints
        .iter()
        .filter(|f| f.alg == best)
        .any(|f| f.value == ours)
    {
        return Ok(());
    }
    Err(format!(
        "the far end's DTLS certificate does not match its a=fingerprint: it has {} {} but the SDP says {}",
        best.as_str(),
        format_hex(&ours),
        fingerprints
            .iter()
            .filter(|f| f.alg == best)
            .map(Fingerprint::to_attr_value)
            .collect::<Vec<_>>()
            .join(" or ")
    ))
}

/// SHA-224 (FIPS 180-4 §6.3): SHA-256 with its own initial value, truncated.
fn sha224(data: &[u8]) -> [u8; 28] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939, 0xffc00b31, 0x68581511, 0x64f98fa7,
        0xbefa4fa4,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 28];
    for (i, word) in h.iter().take(7).enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn digests_match_known_vectors() {
        // FIPS 180-4 / RFC 3874 examples.
        assert_eq!(
            hex(&digest(HashAlg::Sha224, b"abc")),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert_eq!(
            hex(&digest(HashAlg::Sha224, b"")),
            "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex(&digest(HashAlg::Sha224, long)),
            "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"
        );
        assert_eq!(
            hex(&digest(HashAlg::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        for alg in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            assert_eq!(digest(alg, b"x").len(), alg.digest_len());
            assert_eq!(HashAlg::parse(&alg.as_str().to_uppercase()), Some(alg));
        }
    }

    #[test]
    fn parses_and_rejects_values() {
        let fp =
            Fingerprint::parse("SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB")
                .unwrap();
        assert_eq!(fp.alg, HashAlg::Sha1);
        assert_eq!(
            fp.to_attr_value(),
            "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB"
        );
        for bad in [
            "md5 4A:AD",
            "sha-1 4A:AD",
            "sha-1",
            "sha-256 zz:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF",
            "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB extra",
            "sha-1 4AAD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:",
            "",
        ] {
            assert!(Fingerprint::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn verify_uses_the_strongest_set() {
        let der = b"certificate bytes";
        let good = |alg| Fingerprint {
            alg,
            value: digest(alg, der),
        };
        let bad = |alg: HashAlg| Fingerprint {
            alg,
            value: vec![0; alg.digest_len()],
        };
        assert!(verify(der, &[good(HashAlg::Sha1)]).is_ok());
        assert!(verify(der, &[good(HashAlg::Sha512)]).is_ok());
        assert!(verify(der, &[good(HashAlg::Sha224)]).is_ok());
        assert!(verify(der, &[bad(HashAlg::Sha1), good(HashAlg::Sha384)]).is_ok());
        // Several of the strongest kind: one match is enough.
        assert!(verify(der, &[bad(HashAlg::Sha256), good(HashAlg::Sha256)]).is_ok());
        // A weaker match does not rescue a wrong strongest one.
        let e = verify(der, &[good(HashAlg::Sha1), bad(HashAlg::Sha256)]).unwrap_err();
        assert!(e.contains("sha-256"), "{e}");
        assert!(verify(der, &[]).is_err());
        assert!(verify(b"other", &[good(HashAlg::Sha512)]).is_err());
    }
}
