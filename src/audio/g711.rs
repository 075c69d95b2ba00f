//! ITU-T G.711 µ-law (PCMU) and A-law (PCMA) companding.
//!
//! Bit-twiddling implementation after the classic Sun reference code (the
//! encoders look up tables built from it at compile time); the
//! input/output samples are 16-bit linear PCM. Used for the static RTP
//! payload types 0 (PCMU) and 8 (PCMA).

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8159;
const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn segment(val: i32, table: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if val <= table[i] {
            return i;
        }
        i += 1;
    }
    8
}

/// µ-law from the sample's top 14 bits (`sample >> 2`), computed.
const fn ulaw_of(shifted: i32) -> u8 {
    let mut pcm = shifted;
    let mask: i32 = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    pcm = if pcm < ULAW_CLIP { pcm } else { ULAW_CLIP } + (ULAW_BIAS >> 2);
    let seg = segment(pcm, &SEG_UEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let uval = ((seg as i32) << 4) | ((pcm >> (seg + 1)) & 0xF);
    (uval ^ mask) as u8
}

/// A-law from the sample's top 13 bits (`sample >> 3`), computed.
const fn alaw_of(shifted: i32) -> u8 {
    let mut pcm = shifted;
    let mask: i32 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let seg = segment(pcm, &SEG_AEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mut aval = (seg as i32) << 4;
    if seg < 2 {
        aval |= (pcm >> 1) & 0x0F;
    } else {
        aval |= (pcm >> seg) & 0x0F;
    }
    (aval ^ mask) as u8
}

/// Every code, indexed by the shifted sample plus its offset: a lookup per
/// sample instead of a segment search (encoding runs for every frame of
/// every G.711 call). 16 KB and 8 KB.
static ULAW: [u8; 1 << 14] = {
    let mut t = [0u8; 1 << 14];
    let mut i = 0;
    while i < t.len() {
        t[i] = ulaw_of(i as i32 - (1 << 13));
        i += 1;
    }
    t
};
static ALAW: [u8; 1 << 13] = {
    let mut t = [0u8; 1 << 13];
    let mut i = 0;
    while i < t.len() {
        t[i] = alaw_of(i as i32 - (1 << 12));
        i += 1;
    }
    t
};

/// Encodes one 16-bit linear sample to µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW[((i32::from(sample) >> 2) + (1 << 13)) as usize]
}

/// Decodes one µ-law byte to a 16-bit linear sample.
pub fn ulaw_decode(code: u8) -> i16 {
    let u = i32::from(!code);
    let mut t = ((u & 0x0F) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    let v = if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    };
    v as i16
}

/// Encodes one 16-bit linear sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW[((i32::from(sample) >> 3) + (1 << 12)) as usize]
}

/// Decodes one A-law byte to a 16-bit linear sample.
pub fn alaw_decode(code: u8) -> i16 {
    let a = i32::from(code ^ 0x55);
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    let v = if a & 0x80 != 0 { t } else { -t };
    v as i16
}

/// Encodes `pcm` to µ-law, appending one byte per sample to `out`.
pub fn encode_ulaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| ulaw_encode(s)));
}

/// Decodes µ-law bytes, appending one sample per byte to `out`.
pub fn decode_ulaw(data: &[u8], out: &mut Vec<i16>) {
    out.extend(data.iter().map(|&b| ulaw_decode(b)));
}

/// Encodes `pcm` to A-law, appending one byte per sample to `out`.
pub fn encode_alaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| alaw_encode(s)));
}

/// Decodes A-law bytes, appending one sample per byte to `out`.
pub fn decode_alaw(data: &[u8], out: &mut Vec<i16>) {
    out.extend(data.iter().map(|&b| alaw_decode(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_computation() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(x), ulaw_of(i32::from(x) >> 2), "ulaw {x}");
            assert_eq!(alaw_encode(x), alaw_of(i32::from(x) >> 3), "alaw {x}");
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn codes_are_stable() {
        for c in 0..=255u8 {
            let u = ulaw_decode(c);
            assert_eq!(ulaw_decode(ulaw_encode(u)), u, "ulaw code {c:#x}");
            let a = alaw_decode(c);
            assert_eq!(alaw_encode(a), c, "alaw code {c:#x}");
        }
    }

    #[test]
    fn round_trip_error_bounds() {
        for x in i16::MIN..=i16::MAX {
            let xi = i32::from(x);
            let bound = xi.abs() / 16 + 16;
            let eu = (i32::from(ulaw_decode(ulaw_encode(x))) - xi).abs();
            let ea = (i32::from(alaw_decode(alaw_encode(x))) - xi).abs();
            if xi.abs() <= 32000 {
                assert!(eu <= bound, "ulaw x={x} err={eu}");
                assert!(ea <= bound, "alaw x={x} err={ea}");
            } else {
                assert!(eu <= 1100 && ea <= 1100, "clip x={x}");
            }
        }
    }

    #[test]
    fn monotonic_decode_order() {
        let mut prev = i16::MIN;
        for x in (i16::MIN..=i16::MAX).step_by(7) {
            let u = ulaw_decode(ulaw_encode(x));
            assert!(u >= prev);
            prev = u;
        }
    }

    #[test]
    fn slice_helpers() {
        let pcm = [0i16, 1000, -1000, 30000, -30000];
        let mut u = Vec::new();
        encode_ulaw(&pcm, &mut u);
        let mut a = Vec::new();
        encode_alaw(&pcm, &mut a);
        assert_eq!(u.len(), 5);
        let mut du = vec![7];
        decode_ulaw(&u, &mut du);
        let mut da = Vec::new();
        decode_alaw(&a, &mut da);
        assert_eq!(du.len(), 6);
        assert_eq!(du[0], 7);
        for (i, &x) in pcm.iter().enumerate() {
            assert!((i32::from(du[i + 1]) - i32::from(x)).abs() < 1000);
            assert!((i32::from(da[i]) - i32::from(x)).abs() < 1000);
        }
    }
}
