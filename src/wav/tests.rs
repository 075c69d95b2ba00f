use super::*;
use std::io::Cursor;

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = id.to_vec();
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    if body.len() % 2 == 1 {
        v.push(0);
    }
    v
}

fn fmt_body(format: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels * bits / 8;
    let mut b = Vec::new();
    b.extend_from_slice(&format.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    b.extend_from_slice(&align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    v.extend_from_slice(b"WAVE");
    v.extend_from_slice(&body);
    v
}

#[test]
fn round_trip_encode_and_writer() {
    let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 16000) as i16).collect();
    let bytes = encode_wav(&samples, 8000);
    assert_eq!(bytes.len(), 44 + 2000);
    let a = read_wav(&bytes).unwrap();
    assert_eq!(a.sample_rate, 8000);
    assert_eq!(a.samples, samples);

    let mut w = WavWriter::new(Cursor::new(Vec::new()), 48000).unwrap();
    w.write_samples(&samples[..400]).unwrap();
    w.write_samples(&samples[400..]).unwrap();
    assert_eq!(w.samples_written(), 1000);
    let out = w.finish().unwrap().into_inner();
    assert_eq!(&out[..], &encode_wav(&samples, 48000)[..]);
}

#[test]
fn writer_patches_on_drop() {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = WavWriter::new(&mut buf, 16000).unwrap();
        w.write_samples(&[1, 2, 3]).unwrap();
    }
    let a = read_wav(buf.get_ref()).unwrap();
    assert_eq!(a.samples, vec![1, 2, 3]);
    assert_eq!(a.sample_rate, 16000);
}

#[test]
fn stereo_downmix_and_formats() {
    let mut d16 = Vec::new();
    for (l, r) in [(1000i16, 3000i16), (-100, 100), (i16::MAX, i16::MAX)] {
        d16.extend_from_slice(&l.to_le_bytes());
        d16.extend_from_slice(&r.to_le_bytes());
    }
    let a = read_wav(&riff(&[
        chunk(b"fmt ", &fmt_body(1, 2, 44100, 16)),
        chunk(b"data", &d16),
    ]))
    .unwrap();
    assert_eq!(a.samples, vec![2000, 0, i16::MAX]);
    assert_eq!(a.sample_rate, 44100);

    let a = read_wav(&riff(&[
        chunk(b"fmt ", &fmt_body(1, 1, 8000, 8)),
        chunk(b"data", &[128, 0, 255]),
    ]))
    .unwrap();
    assert_eq!(a.samples, vec![0, -32768, 32512]);

    let mut f = Vec::new();
    for v in [0.5f32, -1.0, 2.0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    let a = read_wav(&riff(&[
        chunk(b"fmt ", &fmt_body(3, 1, 48000, 32)),
        chunk(b"data", &f),
    ]))
    .unwrap();
    assert_eq!(a.samples, vec![16384, -32768, 32767]);

    let a = read_wav(&riff(&[
        chunk(b"fmt ", &fmt_body(1, 1, 8000, 24)),
        chunk(b"data", &[0, 0, 0x40, 0, 0, 0xC0]),
    ]))
    .unwrap();
    assert_eq!(a.samples, vec![16384, -16384]);
}

#[test]
fn extensible_pcm() {
    let mut fmt = fmt_body(FORMAT_EXTENSIBLE, 2, 16000, 16);
    fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    fmt.extend_from_slice(&16u16.to_le_bytes()); // valid bits
    fmt.extend_from_slice(&3u32.to_le_bytes()); // channel mask
    fmt.extend_from_slice(&[
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B,
        0x71,
    ]);
    let mut d = Vec::new();
    for v in [100i16, 300, -50, -150] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    let a = read_wav(&riff(&[chunk(b"fmt ", &fmt), chunk(b"data", &d)])).unwrap();
    assert_eq!(a.samples, vec![200, -100]);
    assert_eq!(a.sample_rate, 16000);
    // Truncated extensible fmt.
    let short = riff(&[chunk(b"fmt ", &fmt[..30]), chunk(b"data", &d)]);
    assert!(matches!(read_wav(&short), Err(WavError::Truncated(_))));
}

#[test]
fn skips_unknown_and_odd_chunks() {
    let a = read_wav(&riff(&[
        chunk(b"LIST", b"INFOsome metadata"),
        chunk(b"junk", &[1, 2, 3]), // odd size, padded
        chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
        chunk(b"odd ", &[9]),
        chunk(b"data", &[1, 0, 2, 0]),
        chunk(b"LIST", b"trailing"),
    ]))
    .unwrap();
    assert_eq!(a.samples, vec![1, 2]);
    // data before fmt also works
    let a = read_wav(&riff(&[
        chunk(b"data", &[5, 0]),
        chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
    ]))
    .unwrap();
    assert_eq!(a.samples, vec![5]);
}

#[test]
fn garbage_and_truncated() {
    assert!(matches!(read_wav(b""), Err(WavError::NotWav)));
    assert!(matches!(
        read_wav(b"hello world, not a wav file"),
        Err(WavError::NotWav)
    ));
    assert!(matches!(
        read_wav(b"RIFF\0\0\0\0WAVX"),
        Err(WavError::NotWav)
    ));
    assert!(matches!(
        read_wav(b"RIFF\0\0\0\0WAVE"),
        Err(WavError::MissingChunk("fmt "))
    ));
    let full = encode_wav(&[1, 2, 3, 4], 8000);
    for cut in 0..full.len() - 8 {
        assert!(read_wav(&full[..cut]).is_err(), "cut {cut}");
    }
    let no_data = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 8000, 16))]);
    assert!(matches!(
        read_wav(&no_data),
        Err(WavError::MissingChunk("data"))
    ));
    let adpcm = riff(&[
        chunk(b"fmt ", &fmt_body(2, 1, 8000, 4)),
        chunk(b"data", &[0; 4]),
    ]);
    assert!(matches!(
        read_wav(&adpcm),
        Err(WavError::Unsupported { format: 2, bits: 4 })
    ));
    let zero_ch = riff(&[
        chunk(b"fmt ", &fmt_body(1, 0, 8000, 16)),
        chunk(b"data", &[0; 4]),
    ]);
    assert!(matches!(
        read_wav(&zero_ch),
        Err(WavError::InvalidFormat(_))
    ));
    // Pseudo-random garbage after a valid RIFF header never panics.
    let mut x: u32 = 12345;
    for len in 0..300 {
        let mut g = b"RIFF\0\0\0\0WAVE".to_vec();
        for _ in 0..len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            g.push((x >> 16) as u8);
        }
        let _ = read_wav(&g);
    }
}

/// Files as sox writes them (`sox -n -r 8000 -e mu-law out.wav synth 1
/// sine 800`, and `-e a-law`): 18-byte fmt, a fact chunk, 8-bit G.711.
#[test]
fn reads_sox_mulaw_and_alaw() {
    for bytes in [
        &include_bytes!("../../__test__/fixtures/sox-800hz-mulaw.wav")[..],
        &include_bytes!("../../__test__/fixtures/sox-800hz-alaw.wav")[..],
    ] {
        let a = read_wav(bytes).unwrap();
        assert_eq!(a.sample_rate, 8000);
        assert_eq!(a.samples.len(), 8000);
        let f = crate::tone::dominant_frequency(&a.samples, 8000).unwrap();
        assert!((f - 800.0).abs() < 5.0, "heard {f} Hz");
        let peak = a.samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        // `sox out.wav -n stat` reports a maximum amplitude of 0.667847
        // (mu-law; A-law quantises the same peak to 0.6719).
        assert!(
            (f64::from(peak) / 32768.0 - 0.67).abs() < 0.005,
            "peak {peak}"
        );
    }
}

#[test]
fn g711_writer_round_trip_and_header() {
    let samples = crate::tone::sine(800.0, 8000, 1600, 16000);
    for (format, tag, decode) in [
        (
            WavFormat::Pcmu,
            7u16,
            crate::audio::g711::ulaw_decode as fn(u8) -> i16,
        ),
        (WavFormat::Pcma, 6, crate::audio::g711::alaw_decode),
    ] {
        let mut w = WavWriter::with_format(Cursor::new(Vec::new()), 8000, format).unwrap();
        w.write_samples(&samples[..1000]).unwrap();
        w.write_samples(&samples[1000..]).unwrap();
        assert_eq!(w.samples_written(), 1600);
        let out = w.finish().unwrap().into_inner();
        // The header sox writes for the same format, byte for byte.
        let sox = match format {
            WavFormat::Pcmu => &include_bytes!("../../__test__/fixtures/sox-800hz-mulaw.wav")[..58],
            _ => &include_bytes!("../../__test__/fixtures/sox-800hz-alaw.wav")[..58],
        };
        let mut want = header_for(format, 8000, 8000, 1);
        assert_eq!(&want[..], sox, "{format:?} header as sox writes it");
        want = header_for(format, 8000, 1600, 1);
        assert_eq!(&out[..58], &want[..]);
        assert_eq!(u16::from_le_bytes([out[20], out[21]]), tag);
        assert_eq!(out.len(), 58 + 1600);
        let back = read_wav(&out).unwrap();
        assert_eq!(back.sample_rate, 8000);
        // Each sample is the G.711 quantisation of the input.
        let quantised: Vec<i16> = out[58..].iter().map(|&b| decode(b)).collect();
        assert_eq!(back.samples, quantised);
        let err = samples
            .iter()
            .zip(&back.samples)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        assert!(err < 600, "{format:?}: G.711 error {err}");
    }
    // Patched on drop too, and extensible with a mu-law subformat reads.
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = WavWriter::with_format(&mut buf, 16000, WavFormat::Pcma).unwrap();
        w.write_samples(&[0, 5000, -5000]).unwrap();
    }
    assert_eq!(read_wav(buf.get_ref()).unwrap().samples.len(), 3);
    let mut fmt = fmt_body(FORMAT_EXTENSIBLE, 1, 8000, 8);
    fmt.extend_from_slice(&22u16.to_le_bytes());
    fmt.extend_from_slice(&8u16.to_le_bytes());
    fmt.extend_from_slice(&4u32.to_le_bytes());
    fmt.extend_from_slice(&[
        7, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
    ]);
    let a = read_wav(&riff(&[
        chunk(b"fmt ", &fmt),
        chunk(b"data", &[0xFF, 0x7F]),
    ]))
    .unwrap();
    assert_eq!(
        a.samples,
        vec![
            crate::audio::g711::ulaw_decode(0xFF),
            crate::audio::g711::ulaw_decode(0x7F)
        ]
    );
    assert_eq!(WavFormat::parse("PCMU"), Some(WavFormat::Pcmu));
    assert_eq!(WavFormat::parse("alaw"), Some(WavFormat::Pcma));
    assert_eq!(WavFormat::parse("s16"), Some(WavFormat::S16));
    assert_eq!(WavFormat::parse("gsm"), None);
    // 16-bit G.711 is not a thing: rejected with the tag named.
    let bad = riff(&[
        chunk(b"fmt ", &fmt_body(7, 1, 8000, 16)),
        chunk(b"data", &[0; 4]),
    ]);
    assert!(matches!(
        read_wav(&bad),
        Err(WavError::Unsupported {
            format: 7,
            bits: 16
        })
    ));
}

#[test]
fn streaming_data_size() {
    let mut bytes = encode_wav(&[7, 8], 8000);
    bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes.push(0); // odd trailing byte ignored
    assert_eq!(read_wav(&bytes).unwrap().samples, vec![7, 8]);
}
