//! The video clip target: what `playVideo` reads from a file.

use crate::engine::Target;
use crate::{read_seeds, sig};
use std::time::{Duration, Instant};

/// Video clips to send (IVF, H.264 Annex B): parsed, then every frame
/// packetised by a sender.
pub fn video_clip() -> Target {
    let mut ivf = sipwire::video::ivf::file_header(*b"VP80", 320, 240, 2);
    sipwire::video::ivf::push_frame(
        &mut ivf,
        0,
        &[
            0x50, 0x42, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 1, 2, 3,
        ],
    );
    sipwire::video::ivf::push_frame(&mut ivf, 3000, &[0x51, 0, 0, 4, 5]);
    let annexb = [
        &[
            0u8, 0, 0, 1, 0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10,
        ][..],
        &[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80],
        &[0, 0, 1, 0x65, 0x88, 1, 2, 3],
        &[0, 0, 1, 0x41, 0x9a, 4],
    ]
    .concat();
    let mut seeds = vec![ivf, annexb];
    seeds.extend(read_seeds(&["tests/fuzz/corpus/video_clip"]));
    Target {
        name: "video_clip",
        seeds,
        max_len: 4096,
        text: false,
        dict: vec![
            b"DKIF".to_vec(),
            b"VP80".to_vec(),
            vec![0x9d, 0x01, 0x2a],
            vec![0, 0, 0, 1],
            vec![0, 0, 1, 0x65],
            vec![0, 0, 1, 0x67],
            vec![0xff, 0xff, 0xff, 0xff],
        ],
        run: Box::new(|data| match sipwire::video::clip::parse(data, 30.0) {
            Ok(clip) => {
                use sipwire::video::sdp::VideoPayload;
                use sipwire::video::sender::{PlayDone, VideoSender};
                let payload = |codec, pt| VideoPayload {
                    pt,
                    codec,
                    fmtp: String::new(),
                    rtx: Some(pt + 1),
                    nack: true,
                    pli: true,
                    fir: true,
                };
                let mut s = VideoSender::new(
                    vec![
                        payload(sipwire::video::VideoCodec::Vp8, 96),
                        payload(sipwire::video::VideoCodec::H264, 102),
                    ],
                    1,
                    2,
                );
                let n = clip.frames.len();
                let t0 = Instant::now();
                let _ = s.play(t0, std::sync::Arc::new(clip), false, PlayDone::none(), 1);
                let mut packets = s.take_packets().len();
                for i in 1..=(n.min(64) as u64 * 2) {
                    s.tick(t0 + Duration::from_millis(20 * i));
                    packets += s.take_packets().len();
                }
                sig((n.min(16), packets.min(64)))
            }
            Err(e) => sig(e.split(':').next().unwrap_or("").to_string()),
        }),
        reset: Box::new(|| {}),
        notes: Box::new(String::new),
    }
}
