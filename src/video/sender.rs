//! The per-connection video send pipeline: a loaded [`Clip`] paced onto the
//! 90 kHz media clock, packetised ([`super::packetize`]), kept in a bounded
//! history for NACKs (RFC 4585 §6.2.1; answered over RTX, RFC 4588, when
//! negotiated), and restarted at the latest key frame on a PLI or FIR
//! (RFC 5104 §3.5.1): a file cannot make a new key frame, so the most recent
//! one is sent again, followed by the frames that depend on it.
//!
//! Sans-IO: the peer calls [`VideoSender::tick`] with `Instant`s on its
//! media tick, hands it the RTCP that arrives, and sends what
//! [`VideoSender::take_packets`] returns. No file is read here.

use super::clip::Clip;
use super::sdp::VideoPayload;
use super::{packetize, VideoCodec};
use bytes::Bytes;
use rtc::rtcp::packet::Packet as RtcpPacket;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp::header::Header;
use rtc::rtp::packet::Packet;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Packets kept for retransmission: about 5 s of a 1 Mbit/s stream.
const HISTORY: usize = 512;
/// A key frame is resent at most this often, however many PLIs arrive:
/// each one restarts playback at the last key frame.
const KEY_ANSWER_INTERVAL: Duration = Duration::from_millis(1000);
/// Behind schedule by more than this (the process stalled): drop the
/// backlog instead of bursting it out.
const MAX_LAG: Duration = Duration::from_millis(500);
/// Sender reports for the video stream: about once a second.
const REPORT_INTERVAL: Duration = Duration::from_millis(1000);
/// Frames sent per tick at most, even when several are due.
const MAX_FRAMES_PER_TICK: usize = 4;

/// W3C `RTCOutboundRtpStreamStats` members for the video stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VideoSendStats {
    /// Our video SSRC.
    pub ssrc: u32,
    /// Our RTX SSRC, when RTX was negotiated.
    pub rtx_ssrc: Option<u32>,
    /// Codec of the clip playing (or played last).
    pub codec: Option<VideoCodec>,
    /// Its payload type.
    pub payload_type: u8,
    /// RTP packets sent, retransmissions included.
    pub packets_sent: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Of which key frames.
    pub key_frames_sent: u64,
    /// From the clip's headers.
    pub frame_width: u32,
    /// From the clip's headers.
    pub frame_height: u32,
    /// NACK packets received for our stream.
    pub nack_count: u64,
    /// PLI packets received.
    pub pli_count: u64,
    /// FIR packets received.
    pub fir_count: u64,
    /// Packets sent again in answer to NACKs.
    pub retransmitted_packets_sent: u64,
    /// Their payload bytes.
    pub retransmitted_bytes_sent: u64,
    /// What the far end's `b=TIAS`/`b=AS` allows, in bit/s.
    pub max_bitrate: Option<u64>,
}

/// Settles a `playVideo` promise: with `Ok(false)` when the clip ended,
/// `Ok(true)` when it was stopped, replaced or the connection went away
/// (on drop, so no promise is left pending), or an error.
pub struct PlayDone(Option<PlayCallback>);

type PlayCallback = Box<dyn FnOnce(Result<bool, String>) + Send>;

impl PlayDone {
    /// Call `f` once with the outcome.
    pub fn new(f: impl FnOnce(Result<bool, String>) + Send + 'static) -> Self {
        PlayDone(Some(Box::new(f)))
    }

    /// Nobody waits (core tests).
    pub fn none() -> Self {
        PlayDone(None)
    }

    /// Settle with `r`.
    pub fn settle(mut self, r: Result<bool, String>) {
        if let Some(f) = self.0.take() {
            f(r);
        }
    }
}

impl Drop for PlayDone {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(Ok(true));
        }
    }
}

struct Playing {
    clip: Arc<Clip>,
    done: PlayDone,
    pt: u8,
    rtx_pt: Option<u8>,
    looped: bool,
    /// Next frame to send.
    idx: usize,
    /// When it is due.
    due: Instant,
    /// Its 90 kHz time since playback started.
    media_ts: u64,
}

/// Sends one video stream.
pub struct VideoSender {
    payloads: Vec<VideoPayload>,
    ssrc: u32,
    rtx_ssrc: u32,
    seq: u16,
    rtx_seq: u16,
    /// Random-looking origin of our RTP timestamps (RFC 3550 §5.1).
    ts_origin: u32,
    picture_id: u16,
    /// Media time of the next frame, kept across clips.
    next_ts: u64,
    playing: Option<Playing>,
    history: VecDeque<Packet>,
    out: Vec<Packet>,
    key_wanted: bool,
    last_key_answer: Option<Instant>,
    last_fir_seq: Option<u8>,
    /// Of the latest `play` or `stop` applied: clips load on threads of
    /// their own and may arrive out of order; an older one never replaces
    /// a newer one or starts after a later stop.
    generation: u64,
    /// Warnings for the application (`video-bitrate`).
    warnings: Vec<String>,
    /// When our last sender report went out.
    last_report: Option<Instant>,
    stats: VideoSendStats,
}

impl VideoSender {
    /// A sender for the negotiated `payloads`, on `ssrc` (and `rtx_ssrc`
    /// for retransmissions when RTX was negotiated).
    pub fn new(payloads: Vec<VideoPayload>, ssrc: u32, rtx_ssrc: u32) -> Self {
        let mix = ssrc.wrapping_mul(0x9e37_79b9);
        VideoSender {
            payloads,
            ssrc,
            rtx_ssrc,
            seq: (mix >> 17) as u16,
            rtx_seq: (mix >> 3) as u16,
            ts_origin: mix.rotate_left(11),
            picture_id: (mix >> 9) as u16 & 0x7fff,
            next_ts: 0,
            playing: None,
            history: VecDeque::with_capacity(HISTORY),
            out: Vec::new(),
            key_wanted: false,
            last_key_answer: None,
            last_fir_seq: None,
            generation: 0,
            warnings: Vec::new(),
            last_report: None,
            stats: VideoSendStats {
                ssrc,
                ..Default::default()
            },
        }
    }

    /// The negotiated payload types.
    pub fn payloads(&self) -> &[VideoPayload] {
        &self.payloads
    }

    /// The counters.
    pub fn stats(&self) -> &VideoSendStats {
        &self.stats
    }

    /// The far end's bandwidth limit for our video (`b=TIAS`/`b=AS`), in bit/s.
    pub fn set_max_bitrate(&mut self, bps: Option<u64>) {
        self.stats.max_bitrate = bps;
    }

    /// Warnings since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Whether a clip is playing.
    pub fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// Start sending `clip` from the next [`tick`](Self::tick) (replacing one that plays, whose `done`
    /// settles as stopped), from its first (key) frame; `done` settles when
    /// it ends. Fails (settling `done` with the error) when its codec was
    /// not negotiated. `generation` orders requests: one older than the
    /// latest play or stop settles as stopped at once.
    pub fn play(
        &mut self,
        now: Instant,
        clip: Arc<Clip>,
        looped: bool,
        done: PlayDone,
        generation: u64,
    ) -> Result<(), String> {
        if generation < self.generation {
            done.settle(Ok(true));
            return Ok(());
        }
        let Some(p) = self.payloads.iter().find(|p| p.codec == clip.codec) else {
            let have: Vec<&str> = self.payloads.iter().map(|p| p.codec.mime_name()).collect();
            let e = format!(
                "the clip is {} but the call negotiated {} for video",
                clip.codec.mime_name(),
                have.join(", ")
            );
            done.settle(Err(e.clone()));
            return Err(e);
        };
        self.generation = generation;
        let bitrate = clip.average_bitrate();
        if let Some(max) = self.stats.max_bitrate.filter(|&m| bitrate > m) {
            // A file's bitrate is what it was encoded with: pacing cannot lower it.
            self.warnings.push(format!(
                "the clip averages {} kbit/s but the far end asks for at most {} kbit/s (b=TIAS/b=AS); re-encode it lower",
                bitrate / 1000,
                max / 1000
            ));
        }
        // Timestamps continue across clips: receivers see one stream.
        let media_ts = self.next_ts;
        self.stats.codec = Some(clip.codec);
        self.stats.payload_type = p.pt;
        self.stats.rtx_ssrc = p.rtx.map(|_| self.rtx_ssrc);
        self.stats.frame_width = clip.width.into();
        self.stats.frame_height = clip.height.into();
        self.playing = Some(Playing {
            pt: p.pt,
            rtx_pt: p.rtx,
            clip,
            done,
            looped,
            idx: 0,
            due: now,
            media_ts,
        });
        self.key_wanted = false;
        // The first frame goes at the next tick (the caller's, once connected).
        Ok(())
    }

    /// Stop sending (and any play of an older `generation` still to
    /// come); the history stays for late NACKs.
    pub fn stop(&mut self, generation: u64) {
        self.generation = self.generation.max(generation);
        self.playing = None;
    }

    /// Send the frames that are due at `now`. True when a clip that does
    /// not loop just ended.
    pub fn tick(&mut self, now: Instant) -> bool {
        let Some(mut p) = self.playing.take() else {
            return false;
        };
        if now.saturating_duration_since(p.due) > MAX_LAG {
            p.due = now;
        }
        let mut ended = false;
        for _ in 0..MAX_FRAMES_PER_TICK {
            if p.due > now {
                break;
            }
            if std::mem::take(&mut self.key_wanted) && !p.clip.frames[p.idx].key {
                // Back to the key frame of the frame sent last.
                let last = p.idx.checked_sub(1).unwrap_or(p.clip.frames.len() - 1);
                p.idx = (0..=last)
                    .rev()
                    .find(|&i| p.clip.frames[i].key)
                    .unwrap_or(0);
            }
            self.send_frame(&p);
            let frames = &p.clip.frames;
            let step = match frames.get(p.idx + 1) {
                Some(next) => next.ts - frames[p.idx].ts,
                None => p.clip.last_duration,
            };
            p.media_ts += step;
            // Nanoseconds: truncating to microseconds drifted ~1 ms per 100 s.
            p.due += Duration::from_nanos(step * 1_000_000 / 90);
            p.idx += 1;
            if p.idx == frames.len() {
                if !p.looped {
                    ended = true;
                    break;
                }
                p.idx = 0;
            }
        }
        self.next_ts = p.media_ts;
        if ended {
            p.done.settle(Ok(false));
        } else {
            self.playing = Some(p);
        }
        ended
    }

    fn send_frame(&mut self, p: &Playing) {
        let frame = &p.clip.frames[p.idx];
        let payloads: Vec<Vec<u8>> = match p.clip.codec {
            VideoCodec::Vp8 => {
                self.picture_id = (self.picture_id + 1) & 0x7fff;
                packetize::vp8(&frame.units[0], self.picture_id, packetize::MAX_PAYLOAD)
            }
            VideoCodec::H264 => frame
                .units
                .iter()
                .flat_map(|n| packetize::h264(n, packetize::MAX_PAYLOAD))
                .collect(),
        };
        let timestamp = self.ts_origin.wrapping_add(p.media_ts as u32);
        let last = payloads.len().saturating_sub(1);
        for (i, payload) in payloads.into_iter().enumerate() {
            let pkt = Packet {
                header: Header {
                    version: 2,
                    marker: i == last,
                    payload_type: p.pt,
                    sequence_number: self.seq,
                    timestamp,
                    ssrc: self.ssrc,
                    ..Default::default()
                },
                payload: Bytes::from(payload),
            };
            self.seq = self.seq.wrapping_add(1);
            self.stats.packets_sent += 1;
            self.stats.bytes_sent += pkt.payload.len() as u64;
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(pkt.clone());
            self.out.push(pkt);
        }
        self.stats.frames_sent += 1;
        self.stats.key_frames_sent += u64::from(frame.key);
    }

    /// Feedback from the far end: NACKs are answered from the history at
    /// once; a PLI or FIR makes the next frame a key frame.
    pub fn on_rtcp(&mut self, now: Instant, pkts: &[Box<dyn RtcpPacket>]) {
        for pkt in pkts {
            let any = pkt.as_any();
            if let Some(n) = any.downcast_ref::<TransportLayerNack>() {
                if n.media_ssrc == self.ssrc {
                    self.stats.nack_count += 1;
                    for pair in &n.nacks {
                        for seq in pair.packet_list() {
                            self.retransmit(seq);
                        }
                    }
                }
            } else if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                if pli.media_ssrc == self.ssrc {
                    self.stats.pli_count += 1;
                    self.want_key(now);
                }
            } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                // RFC 5104 §4.3.1.2: a repeated sequence number is the same request.
                if let Some(e) = fir.fir.iter().find(|e| e.ssrc == self.ssrc) {
                    self.stats.fir_count += 1;
                    if self.last_fir_seq != Some(e.sequence_number) {
                        self.last_fir_seq = Some(e.sequence_number);
                        self.want_key(now);
                    }
                }
            }
        }
    }

    fn want_key(&mut self, now: Instant) {
        if self
            .last_key_answer
            .is_some_and(|t| now.saturating_duration_since(t) < KEY_ANSWER_INTERVAL)
        {
            return;
        }
        self.last_key_answer = Some(now);
        self.key_wanted = true;
    }

    fn retransmit(&mut self, seq: u16) {
        let Some(front) = self.history.front() else {
            return;
        };
        let at = seq.wrapping_sub(front.header.sequence_number) as usize;
        let Some(orig) = self
            .history
            .get(at)
            .filter(|p| p.header.sequence_number == seq)
        else {
            return; // too old, or never sent
        };
        let rtx_pt = self.playing.as_ref().map_or_else(
            || {
                self.payloads
                    .iter()
                    .find(|p| p.pt == orig.header.payload_type)
                    .and_then(|p| p.rtx)
            },
            |p| p.rtx_pt.filter(|_| p.pt == orig.header.payload_type),
        );
        let pkt = match rtx_pt {
            // RFC 4588 §4: the original sequence number, then the payload.
            Some(pt) => {
                let mut payload = Vec::with_capacity(orig.payload.len() + 2);
                payload.extend_from_slice(&seq.to_be_bytes());
                payload.extend_from_slice(&orig.payload);
                let mut header = orig.header.clone();
                header.payload_type = pt;
                header.ssrc = self.rtx_ssrc;
                header.sequence_number = self.rtx_seq;
                self.rtx_seq = self.rtx_seq.wrapping_add(1);
                Packet {
                    header,
                    payload: Bytes::from(payload),
                }
            }
            None => orig.clone(),
        };
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += pkt.payload.len() as u64;
        self.stats.retransmitted_packets_sent += 1;
        self.stats.retransmitted_bytes_sent += pkt.payload.len() as u64;
        self.out.push(pkt);
    }

    /// A sender report (RFC 3550 §6.4.1) with our CNAME, about once a
    /// second while a clip plays: receivers map our RTP clock to wall-clock
    /// time with it (lip sync with the audio, round-trip time). `ntp` is
    /// the NTP time at `now`, on the same clock as the audio's reports.
    pub fn poll_report(&mut self, now: Instant, ntp: u64) -> Option<Vec<Box<dyn RtcpPacket>>> {
        use rtc::rtcp::sender_report::SenderReport;
        use rtc::rtcp::source_description::{
            SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
        };
        let p = self.playing.as_ref()?;
        if self
            .last_report
            .is_some_and(|t| now.saturating_duration_since(t) < REPORT_INTERVAL)
        {
            return None;
        }
        self.last_report = Some(now);
        // Our RTP clock at `now`: the next frame's time, less what is left until it is due.
        let ticks = |d: Duration| ((d.as_nanos() * 90 + 500_000) / 1_000_000) as u64;
        let ahead = ticks(p.due.saturating_duration_since(now));
        let behind = ticks(now.saturating_duration_since(p.due));
        let rtp_time = self
            .ts_origin
            .wrapping_add((p.media_ts + behind).wrapping_sub(ahead) as u32);
        let sr = SenderReport {
            ssrc: self.ssrc,
            ntp_time: ntp,
            rtp_time,
            packet_count: self.stats.packets_sent as u32,
            octet_count: self.stats.bytes_sent as u32,
            ..Default::default()
        };
        let sdes = SourceDescription {
            chunks: vec![SourceDescriptionChunk {
                source: self.ssrc,
                items: vec![SourceDescriptionItem {
                    sdes_type: SdesType::SdesCname,
                    // The CNAME of our descriptions (the audio's too).
                    text: bytes::Bytes::from_static(b"sipwire"),
                }],
            }],
        };
        Some(vec![Box::new(sr), Box::new(sdes)])
    }

    /// RTP packets to send, in order.
    pub fn take_packets(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.out)
    }
}

/// The `codec` and `outbound-rtp` stats entries of the video we send
/// (none before a clip played).
pub fn stats_entries(
    s: &VideoSendStats,
    timestamp: f64,
    transport_id: &str,
) -> Vec<serde_json::Value> {
    let Some(codec) = s.codec else {
        return vec![];
    };
    let codec_id = format!("COV{}", s.payload_type);
    let mut out = serde_json::json!({
        "id": format!("OV{}", s.ssrc), "type": "outbound-rtp", "timestamp": timestamp,
        "kind": "video", "mediaType": "video", "ssrc": s.ssrc,
        "codecId": codec_id, "transportId": transport_id,
        "packetsSent": s.packets_sent, "bytesSent": s.bytes_sent,
        "framesSent": s.frames_sent, "keyFramesSent": s.key_frames_sent,
        "frameWidth": s.frame_width, "frameHeight": s.frame_height,
        "nackCount": s.nack_count, "pliCount": s.pli_count, "firCount": s.fir_count,
        "retransmittedPacketsSent": s.retransmitted_packets_sent,
        "retransmittedBytesSent": s.retransmitted_bytes_sent,
    });
    if let Some(rtx) = s.rtx_ssrc {
        out["rtxSsrc"] = rtx.into();
    }
    if let Some(max) = s.max_bitrate {
        // The W3C name of the encoding's cap (RTCRtpEncodingParameters).
        out["maxBitrate"] = max.into();
    }
    vec![
        serde_json::json!({
            "id": codec_id, "type": "codec", "timestamp": timestamp,
            "payloadType": s.payload_type, "mimeType": codec.mime_type(),
            "clockRate": 90000, "transportId": transport_id,
        }),
        out,
    ]
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
