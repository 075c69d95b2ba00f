//! The per-connection video receive pipeline: RTP (and RTX) packets in,
//! whole frames to an optional recording, RTCP feedback (NACK, PLI, FIR)
//! out, and the W3C `inbound-rtp` counters for video.
//!
//! Sans-IO: the peer feeds packets and ticks with `Instant`s and drains
//! [`VideoReceiver::poll_rtcp`]; the file is written by the recording pool
//! (`crate::recording`), never here.

use super::assembler::{Assembler, Frame, Output};
use super::sdp::VideoPayload;
use super::{ivf, VideoCodec};
use crate::media::{FinishCallback, SinkStatus};
use crate::recording::ByteSink;
use rtc::rtcp::packet::Packet as RtcpPacket;
use rtc::rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    nack_pairs_from_sequence_numbers, TransportLayerNack,
};
use std::time::{Duration, Instant};

/// Key frame requests are not repeated more often than this.
const KEY_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// W3C `RTCInboundRtpStreamStats` members for the video stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VideoStats {
    /// The sender's SSRC (0 before the first packet).
    pub ssrc: u32,
    /// Codec of the last packet.
    pub codec: Option<VideoCodec>,
    /// Payload type of the last packet.
    pub payload_type: u8,
    /// RTP packets received (retransmissions included).
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Packets given up for lost.
    pub packets_lost: u64,
    /// Whole frames assembled.
    pub frames_received: u64,
    /// Of which key frames.
    pub key_frames_received: u64,
    /// Frames dropped (lost, or undecodable until a key frame).
    pub frames_dropped: u64,
    /// From the last key frame's headers.
    pub frame_width: u32,
    /// From the last key frame's headers.
    pub frame_height: u32,
    /// NACK packets sent.
    pub nack_count: u64,
    /// PLI packets sent.
    pub pli_count: u64,
    /// FIR packets sent.
    pub fir_count: u64,
    /// Packets that arrived after we NACKed them (on the RTX payload type,
    /// unwrapped, or as plain retransmissions).
    pub retransmitted_packets_received: u64,
}

/// A video recording in progress.
struct Recorder {
    sink: ByteSink,
    codec: VideoCodec,
    /// Timestamp of the first frame written.
    first_ts: Option<u64>,
    frames: u32,
}

impl Recorder {
    /// Write a frame of `codec`; the first one written is a key frame, and
    /// fixes the file's codec (a frame of another codec is skipped).
    fn write(&mut self, codec: VideoCodec, f: &Frame) -> SinkStatus {
        if self.first_ts.is_none() {
            self.codec = codec;
        } else if codec != self.codec {
            return SinkStatus::Ok;
        }
        let mut out = Vec::with_capacity(f.data.len() + 44);
        let first = match self.first_ts {
            Some(t) => t,
            None => {
                if !f.key {
                    return SinkStatus::Ok;
                }
                if self.codec == VideoCodec::Vp8 {
                    let (w, h) = f.size.unwrap_or((0, 0));
                    out.extend(ivf::file_header(*b"VP80", w, h, 0));
                }
                self.first_ts = Some(f.timestamp);
                f.timestamp
            }
        };
        match self.codec {
            VideoCodec::Vp8 => {
                ivf::push_frame(&mut out, f.timestamp.saturating_sub(first), &f.data)
            }
            VideoCodec::H264 => out.extend_from_slice(&f.data),
        }
        self.frames += 1;
        self.sink.write(out)
    }

    fn finish(self, done: Option<FinishCallback>) {
        let patches = if self.codec == VideoCodec::Vp8 && self.first_ts.is_some() {
            vec![(ivf::FRAME_COUNT_OFFSET, self.frames.to_le_bytes().to_vec())]
        } else {
            vec![]
        };
        self.sink.finish(patches, done);
    }
}

/// Events for the application from the video pipeline.
#[derive(Debug, PartialEq)]
pub enum VideoEvent {
    /// The recording could not be written (`recording-failed`).
    RecordingFailed(String),
    /// The writer falls behind and frames are dropped (`recording-overrun`).
    RecordingOverrun,
}

/// Receives one video section.
pub struct VideoReceiver {
    payloads: Vec<VideoPayload>,
    our_ssrc: u32,
    ssrc: Option<u32>,
    assembler: Option<Assembler>,
    stats: VideoStats,
    recorder: Option<Recorder>,
    rtcp: Vec<Box<dyn RtcpPacket>>,
    events: Vec<VideoEvent>,
    /// A key frame is wanted (recording started, or a frame was lost).
    want_key: bool,
    last_key_request: Option<Instant>,
    fir_seq: u8,
    out: Vec<Output>,
}

impl VideoReceiver {
    /// A receiver for the negotiated `payloads`; `our_ssrc` is the sender
    /// SSRC of our feedback packets.
    pub fn new(payloads: Vec<VideoPayload>, our_ssrc: u32) -> Self {
        VideoReceiver {
            payloads,
            our_ssrc,
            ssrc: None,
            assembler: None,
            stats: VideoStats::default(),
            recorder: None,
            rtcp: Vec::new(),
            events: Vec::new(),
            want_key: false,
            last_key_request: None,
            fir_seq: 0,
            out: Vec::new(),
        }
    }

    /// Whether `pt` is one of ours (primary or RTX).
    pub fn owns(&self, pt: u8) -> bool {
        self.payloads
            .iter()
            .any(|p| p.pt == pt || p.rtx == Some(pt))
    }

    /// The negotiated payload types.
    pub fn payloads(&self) -> &[VideoPayload] {
        &self.payloads
    }

    /// The counters.
    pub fn stats(&self) -> &VideoStats {
        &self.stats
    }

    /// One RTP packet whose payload type [`owns`](Self::owns) returned true for.
    pub fn on_rtp(&mut self, now: Instant, pkt: &rtc::rtp::Packet) {
        let h = &pkt.header;
        let (payload, seq, primary) = match self.payloads.iter().find(|p| p.pt == h.payload_type) {
            Some(p) => {
                if self.ssrc != Some(h.ssrc) {
                    // First packet, or the sender restarted its stream.
                    self.ssrc = Some(h.ssrc);
                    self.assembler = None;
                }
                (pkt.payload.clone(), h.sequence_number, p.clone())
            }
            None => {
                // RTX (RFC 4588 §4): the original sequence number, then the payload.
                let Some(p) = self.payloads.iter().find(|p| p.rtx == Some(h.payload_type)) else {
                    return;
                };
                if pkt.payload.len() < 2 || self.ssrc.is_none() {
                    return; // padding-only probes, or nothing to repair yet
                }
                let osn = u16::from_be_bytes([pkt.payload[0], pkt.payload[1]]);
                (pkt.payload.slice(2..), osn, p.clone())
            }
        };
        self.stats.packets_received += 1;
        self.stats.bytes_received += payload.len() as u64;
        self.stats.payload_type = primary.pt;
        self.stats.ssrc = self.ssrc.unwrap_or(0);
        if self
            .assembler
            .as_ref()
            .is_none_or(|a| a.codec() != primary.codec)
        {
            self.assembler = Some(Assembler::new(primary.codec));
            self.stats.codec = Some(primary.codec);
        }
        let Some(a) = self.assembler.as_mut() else {
            return;
        };
        let mut out = std::mem::take(&mut self.out);
        a.on_packet(now, seq, h.timestamp, h.marker, payload, &mut out);
        self.handle(now, &mut out, &primary);
        self.out = out;
    }

    /// Once per media tick: frames that waited too long, key frame requests.
    pub fn tick(&mut self, now: Instant) {
        let mut out = std::mem::take(&mut self.out);
        if let Some(a) = self.assembler.as_mut() {
            a.tick(now, &mut out);
        }
        let primary = self
            .payloads
            .iter()
            .find(|p| Some(p.pt) == Some(self.stats.payload_type))
            .or(self.payloads.first())
            .cloned();
        if let Some(p) = primary {
            self.handle(now, &mut out, &p);
        }
        self.out = out;
    }

    fn handle(&mut self, now: Instant, out: &mut Vec<Output>, p: &VideoPayload) {
        for o in out.drain(..) {
            match o {
                Output::Frame(f) => {
                    self.stats.frames_received += 1;
                    if f.key {
                        self.stats.key_frames_received += 1;
                        self.want_key = false;
                    }
                    if let Some((w, h)) = f.size {
                        self.stats.frame_width = w as u32;
                        self.stats.frame_height = h as u32;
                    }
                    if let Some(r) = self.recorder.as_mut() {
                        match r.write(p.codec, &f) {
                            SinkStatus::Ok => {}
                            SinkStatus::Overrun => self.events.push(VideoEvent::RecordingOverrun),
                            SinkStatus::Failed(m) => {
                                self.events.push(VideoEvent::RecordingFailed(m));
                                self.recorder = None;
                            }
                        }
                    }
                }
                Output::Nack(seqs) => {
                    if let (true, Some(ssrc)) = (p.nack, self.ssrc) {
                        self.stats.nack_count += 1;
                        self.rtcp.push(Box::new(TransportLayerNack {
                            sender_ssrc: self.our_ssrc,
                            media_ssrc: ssrc,
                            nacks: nack_pairs_from_sequence_numbers(&seqs),
                        }));
                    }
                }
                Output::KeyFrameNeeded => self.want_key = true,
            }
        }
        if let Some(a) = self.assembler.as_ref() {
            self.stats.frames_dropped = a.frames_dropped;
            self.stats.packets_lost = a.packets_lost;
            self.stats.retransmitted_packets_received = a.repaired;
        }
        if self.want_key {
            self.request_key_frame(now, p);
        }
    }

    fn request_key_frame(&mut self, now: Instant, p: &VideoPayload) {
        let Some(ssrc) = self.ssrc else { return };
        if !p.pli && !p.fir {
            // No feedback negotiated (an RTP/AVP peer without rtcp-fb): the
            // far end would not act on a request; wait for its key frame.
            return;
        }
        if self
            .last_key_request
            .is_some_and(|t| now.saturating_duration_since(t) < KEY_REQUEST_INTERVAL)
        {
            return;
        }
        self.last_key_request = Some(now);
        if p.pli {
            self.stats.pli_count += 1;
            self.rtcp.push(Box::new(PictureLossIndication {
                sender_ssrc: self.our_ssrc,
                media_ssrc: ssrc,
            }));
        } else {
            self.fir_seq = self.fir_seq.wrapping_add(1);
            self.stats.fir_count += 1;
            self.rtcp.push(Box::new(FullIntraRequest {
                sender_ssrc: self.our_ssrc,
                media_ssrc: ssrc,
                fir: vec![FirEntry {
                    ssrc,
                    sequence_number: self.fir_seq,
                }],
            }));
        }
    }

    /// RTCP feedback to send, if any.
    pub fn poll_rtcp(&mut self) -> Option<Vec<Box<dyn RtcpPacket>>> {
        (!self.rtcp.is_empty()).then(|| std::mem::take(&mut self.rtcp))
    }

    /// Events for the application.
    pub fn take_events(&mut self) -> Vec<VideoEvent> {
        std::mem::take(&mut self.events)
    }

    /// Start recording to `sink`, replacing (and finishing) any recording
    /// in progress. The file starts at the next key frame, asked for now.
    /// The codec is the first negotiated one unless packets already arrived.
    pub fn start_recording(&mut self, now: Instant, sink: ByteSink) {
        if let Some(old) = self.recorder.take() {
            old.finish(None);
        }
        let codec = self
            .stats
            .codec
            .or_else(|| self.payloads.first().map(|p| p.codec))
            .unwrap_or(VideoCodec::Vp8);
        self.recorder = Some(Recorder {
            sink,
            codec,
            first_ts: None,
            frames: 0,
        });
        self.want_key = true;
        self.last_key_request = None;
        if let Some(p) = self.payloads.iter().find(|p| p.codec == codec).cloned() {
            self.request_key_frame(now, &p);
        }
    }

    /// Finish the recording; `done` settles once the file is complete.
    pub fn stop_recording(&mut self, done: Option<FinishCallback>) {
        match self.recorder.take() {
            Some(r) => r.finish(done),
            None => {
                if let Some(done) = done {
                    done(Ok(()));
                }
            }
        }
    }
}

/// The W3C stats entries for received video: `inbound-rtp` (kind `video`)
/// and its `codec`, once a packet arrived.
pub fn stats_entries(s: &VideoStats, timestamp: f64, transport_id: &str) -> Vec<serde_json::Value> {
    let Some(codec) = s.codec else {
        return vec![];
    };
    let codec_id = format!("CIV{}", s.payload_type);
    vec![
        serde_json::json!({
            "id": codec_id, "type": "codec", "timestamp": timestamp,
            "payloadType": s.payload_type, "mimeType": codec.mime_type(),
            "clockRate": 90000, "transportId": transport_id,
        }),
        serde_json::json!({
            "id": format!("IV{}", s.ssrc), "type": "inbound-rtp", "timestamp": timestamp,
            "kind": "video", "mediaType": "video", "ssrc": s.ssrc,
            "codecId": codec_id, "transportId": transport_id,
            "packetsReceived": s.packets_received, "bytesReceived": s.bytes_received,
            "packetsLost": s.packets_lost,
            "framesReceived": s.frames_received, "keyFramesReceived": s.key_frames_received,
            "framesDropped": s.frames_dropped,
            "frameWidth": s.frame_width, "frameHeight": s.frame_height,
            "nackCount": s.nack_count, "pliCount": s.pli_count, "firCount": s.fir_count,
            "retransmittedPacketsReceived": s.retransmitted_packets_received,
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtc::rtp::header::Header;

    fn vp8_payload() -> VideoPayload {
        VideoPayload {
            pt: 96,
            codec: VideoCodec::Vp8,
            fmtp: String::new(),
            rtx: Some(97),
            nack: true,
            pli: true,
            fir: true,
        }
    }

    fn pkt(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> rtc::rtp::Packet {
        rtc::rtp::Packet {
            header: Header {
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                marker,
                ssrc: if pt == 97 { 0x2222 } else { 0x1111 },
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(payload),
        }
    }

    const KEY: &[u8] = &[
        0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xaa,
    ];
    const INTER: &[u8] = &[0x10, 0x01, 0, 0, 0xbb];

    #[test]
    fn records_ivf_from_a_key_frame_with_rtp_timestamps() {
        let dir = std::env::temp_dir().join(format!("sipwire-video-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("rec.ivf");
        let now = Instant::now();
        let mut r = VideoReceiver::new(vec![vp8_payload()], 42);
        r.on_rtp(now, &pkt(96, 1, 1000, true, INTER));
        let (tx, rx) = std::sync::mpsc::channel();
        let tx2 = tx.clone();
        r.start_recording(
            now,
            crate::recording::start_bytes(
                path.to_string_lossy().into(),
                Box::new(move |o| {
                    let _ = tx2.send(o);
                }),
            ),
        );
        // Recording asked for a key frame at once.
        assert_eq!(r.stats().pli_count, 1);
        assert!(r.poll_rtcp().is_some());
        r.on_rtp(now, &pkt(96, 2, 4000, true, INTER)); // before the key frame: not written
        r.on_rtp(now, &pkt(96, 3, 7000, true, KEY));
        r.on_rtp(now, &pkt(96, 4, 10000, true, INTER));
        // A lost packet is NACKed, then repaired over RTX.
        r.on_rtp(now, &pkt(96, 6, 16000, true, INTER));
        assert_eq!(r.stats().nack_count, 1);
        let mut rtx = vec![0, 5];
        rtx.extend_from_slice(INTER);
        r.on_rtp(now, &pkt(97, 100, 13000, true, &rtx));
        let s = r.stats().clone();
        assert_eq!((s.frames_received, s.key_frames_received), (4, 1));
        assert_eq!((s.frame_width, s.frame_height), (640, 480));
        assert_eq!(s.retransmitted_packets_received, 1);
        r.stop_recording(Some(Box::new(move |d| {
            let _ = tx.send(d);
        })));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        let data = std::fs::read(&path).unwrap();
        assert_eq!(&data[..4], b"DKIF");
        assert_eq!(
            u32::from_le_bytes(data[24..28].try_into().unwrap()),
            4,
            "frames from the key frame on"
        );
        assert_eq!(u16::from_le_bytes([data[12], data[13]]), 640);
        // Second frame's pts: 3000 ticks after the key frame.
        let first_len = u32::from_le_bytes(data[32..36].try_into().unwrap()) as usize;
        let second = 32 + 12 + first_len;
        assert_eq!(
            u64::from_le_bytes(data[second + 4..second + 12].try_into().unwrap()),
            3000
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn key_frame_requests_are_throttled_and_use_fir_without_pli() {
        let mut p = vp8_payload();
        p.pli = false;
        let mut r = VideoReceiver::new(vec![p], 42);
        let now = Instant::now();
        r.on_rtp(now, &pkt(96, 1, 1000, true, KEY));
        r.on_rtp(now, &pkt(96, 3, 7000, true, INTER));
        r.tick(now + super::super::assembler::MAX_WAIT);
        assert_eq!((r.stats().pli_count, r.stats().fir_count), (0, 1));
        r.tick(now + super::super::assembler::MAX_WAIT + Duration::from_millis(100));
        assert_eq!(r.stats().fir_count, 1, "not again within the interval");
        assert!(!r.owns(8) && r.owns(96) && r.owns(97));
    }

    #[test]
    fn without_feedback_nothing_is_asked_and_frames_wait_for_a_key_frame() {
        // An RTP/AVP peer that offered no rtcp-fb: no NACK, PLI or FIR.
        let mut p = vp8_payload();
        (p.nack, p.pli, p.fir, p.rtx) = (false, false, false, None);
        let mut r = VideoReceiver::new(vec![p], 42);
        let now = Instant::now();
        r.on_rtp(now, &pkt(96, 1, 1000, true, INTER));
        r.on_rtp(now, &pkt(96, 3, 7000, true, INTER));
        r.tick(now + super::super::assembler::MAX_WAIT);
        r.tick(now + super::super::assembler::MAX_WAIT * 4);
        let s = r.stats();
        assert_eq!((s.nack_count, s.pli_count, s.fir_count), (0, 0, 0));
        assert!(r.poll_rtcp().is_none(), "no feedback at all");
        r.on_rtp(now, &pkt(96, 4, 10000, true, KEY));
        assert_eq!(r.stats().key_frames_received, 1);
        assert!(r.poll_rtcp().is_none());
    }
}
