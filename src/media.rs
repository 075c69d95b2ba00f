//! The per-call audio pipeline, as a sans-IO state machine.
//!
//! Send: source (player, PCM written by JS, or silence) at 48 kHz -> resample to
//! the codec rate -> encode -> RTP. RFC 4733 events pre-empt audio while a
//! digit is being sent. Receive: RTP -> telephone-event to the DTMF receiver,
//! audio to the jitter buffer -> decode (PLC for gaps) -> sinks (batched PCM
//! for JS, WAV recorder). [`Media::tick`] is called once per 20 ms by the I/O
//! shard; nothing here reads a clock or touches a socket.

use crate::audio::codec::{CodecKind, Decoder, Encoder};
use crate::audio::jitter::{JitterBuffer, JitterOut};
use crate::audio::resample::Resampler;
use crate::delay::DelayHistogram;
use crate::dtmf::{DtmfReceiver, DtmfSender};
use crate::error::{Error, Result};
use crate::listen::{DigitDedup, DigitSource, ListenEvent, Listener};
use crate::sdp::Direction;
use bytes::Bytes;
use rtc::rtp::header::Header;
use rtc::rtp::packet::Packet;
use std::collections::VecDeque;

/// Rate sources advance at before a codec is negotiated, and the rate odd
/// WAV rates are converted to (see [`to_supported_rate`]).
pub const CANONICAL_RATE: u32 = 48_000;
/// At most this much PCM written by JS is queued; older audio is dropped.
const MAX_QUEUED_MS: usize = 5000;

/// What was negotiated for sending.
#[derive(Clone, Debug, PartialEq)]
pub struct SendCodec {
    /// Audio codec.
    pub kind: CodecKind,
    /// Its payload type on the wire.
    pub pt: u8,
    /// telephone-event payload type and clock rate, if negotiated.
    pub telephone_event: Option<(u8, u32)>,
}

/// Payload types we may receive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecvCodecs {
    /// Audio payload types.
    pub audio: Vec<(u8, CodecKind)>,
    /// telephone-event payload types with their clock rates.
    pub telephone_event: Vec<(u8, u32)>,
}

/// Something the pipeline reports to the application.
#[derive(Debug, PartialEq)]
pub enum MediaEvent {
    /// A DTMF digit received by RFC 4733 (reported once per event).
    Dtmf(char),
    /// A batch of decoded PCM for the audio subscriber.
    Audio {
        /// Mono samples.
        samples: Vec<i16>,
        /// Their rate.
        sample_rate: u32,
    },
    /// RFC 4733 sending moved on (W3C `tonechange`): `Some(tone)` when a tone
    /// starts, `None` when the queue is empty.
    ToneChange(Option<char>),
    /// No RTP arrived for the configured timeout while we expect to receive
    /// (connected, direction with `recv`). Reported once until RTP resumes.
    RtpTimeout,
    /// A `play()` finished (`stopped` = ended by `stop_playback`).
    PlayEnded {
        /// Caller's id for the play request.
        id: u64,
        /// True when cut short.
        stopped: bool,
    },
    /// Something the listeners heard (in-band DTMF, speech, a tone, a beep,
    /// an answering-machine verdict); see [`crate::listen`].
    Listen(crate::listen::ListenEvent),
    /// Something the application should know (e.g. a recording failed).
    Warning {
        /// Stable code, e.g. `recording-failed`.
        code: &'static str,
        /// For people.
        message: String,
    },
}

/// Counters for getStats.
#[derive(Clone, Debug, Default)]
pub struct MediaStats {
    /// RTP packets sent (audio + DTMF).
    pub packets_sent: u64,
    /// RTP payload bytes sent.
    pub bytes_sent: u64,
    /// RTP packets received (audio + DTMF).
    pub packets_received: u64,
    /// RTP payload bytes received.
    pub bytes_received: u64,
    /// Frames concealed by PLC.
    pub concealed_frames: u64,
    /// Packets lost according to sequence numbers.
    pub packets_lost: i64,
    /// Interarrival jitter estimate, in seconds (RFC 3550 §6.4.1, from RTP timestamps and ticks).
    pub jitter_seconds: f64,
    /// DTMF events received.
    pub dtmf_received: u64,
    /// Remote SSRC, once seen.
    pub remote_ssrc: Option<u32>,
    /// Frames decoded.
    pub frames_decoded: u64,
    /// Frames encoded.
    pub frames_encoded: u64,
    /// Total audio energy (W3C `totalAudioEnergy`, samples normalised to 1.0).
    pub total_audio_energy: f64,
    /// Last received frame's level, 0..1 (W3C `audioLevel`).
    pub audio_level: f64,
    /// Ticks on which any RTP arrived since the last check (for RTP-timeout detection).
    pub last_rtp_tick: u64,
}

/// A play() in progress. Samples stay at their own rate and are resampled
/// straight to the codec rate per frame: no 48 kHz intermediate, and no
/// filtering at all when the rates match (an 8 kHz prompt on PCMU).
struct Player {
    id: u64,
    samples: Vec<i16>,
    rate: u32,
    pos: usize,
    /// Start over at the end instead of finishing (until stop_playback).
    looped: bool,
}

struct AudioSink {
    rate: u32,
    batch_samples: usize,
    resamplers: Vec<((u32, u32), Resampler)>,
    buf: Vec<i16>,
}

/// Settles a recording's end (or its opening): `Err` carries the reason.
pub type FinishCallback = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// Where a recording's PCM goes. The pipeline never touches a file: the I/O
/// layer's sink hands batches to a writer thread (see `crate::recording`).
pub trait PcmSink: Send {
    /// Take one batch of mono PCM at the recording's rate. Must not block.
    fn write(&mut self, pcm: &[i16]) -> SinkStatus;
    /// No more batches: finish the file, then call `done`.
    fn finish(self: Box<Self>, done: Option<FinishCallback>);
}

/// What a [`PcmSink`] says about a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkStatus {
    /// Taken.
    Ok,
    /// The sink is behind and started dropping audio (reported once).
    Overrun,
    /// The sink cannot take any more; recording stops.
    Failed(String),
}

struct SendState {
    codec: SendCodec,
    encoder: Encoder,
    dtmf: Option<DtmfSender>,
}

/// The per-call pipeline.
pub struct Media {
    ssrc: u32,
    seq: u16,
    /// RTP timestamp of the next frame at the send codec's clock rate.
    ts: u32,
    /// Timestamp of the current DTMF event's start (RFC 4733 §2.5.1.2).
    dtmf_event_ts: u32,
    send: Option<SendState>,
    recv: RecvCodecs,
    jitter: Option<(CodecKind, JitterBuffer)>,
    decoder: Option<(CodecKind, Decoder)>,
    dtmf_rx: DtmfReceiver,
    direction: Direction,
    players: VecDeque<Player>,
    queue: VecDeque<i16>,
    queue_rate: u32,
    /// Source-rate to codec-rate converters, by (from, to).
    resamplers: Vec<((u32, u32), Resampler)>,
    src_buf: Vec<i16>,
    /// One sink per subscribed rate: concurrent subscribers at different
    /// rates each get every frame at their own rate.
    sinks: Vec<AudioSink>,
    recorder: Option<crate::graph::record::LegRecorder>,
    /// This call's end of a bridge to another call (see `crate::graph`).
    port: Option<crate::graph::Port>,
    /// This tick's decoded far-end audio at `heard_rate`; valid while `heard_ok`.
    heard: Vec<i16>,
    heard_rate: u32,
    heard_ok: bool,
    /// Digits a bridged call relayed to this one this tick.
    relayed_digits: Vec<char>,
    ticks: u64,
    stats: MediaStats,
    frame: Vec<i16>,
    pcm: Vec<i16>,
    payload: Vec<u8>,
    highest_seq: Option<u64>,
    seq_unwrap: crate::audio::seq::SeqUnwrapper,
    first_ext_seq: u64,
    transit: Option<i64>,
    rtp_timeout_ticks: u64,
    rtp_timed_out: bool,
    was_connected: bool,
    /// The RTP timeout runs once media was negotiated.
    armed: bool,
    dtmf_busy: bool,
    /// Further packets of the current tick (the copies of an RFC 4733 end
    /// packet), for [`Media::next_packet`].
    pending: VecDeque<Packet>,
    opus_complexity: i32,
    /// abs-send-time measurement; `None` unless enabled (costs nothing then).
    one_way: Option<OneWayDelay>,
    /// Detectors on the received audio, fed at 8 kHz.
    listener: Listener,
    listen_resamplers: Vec<((u32, u32), Resampler)>,
    listen_buf: Vec<i16>,
    listen_events: Vec<ListenEvent>,
    /// One report per key press when RFC 4733 and in-band both carry it.
    digits: DigitDedup,
    /// G.711 packets of other lengths than 20 ms, as 20 ms frames.
    reframe: crate::audio::reframe::Reframer,
}

struct OneWayDelay {
    /// Negotiated extmap id; `None` while the remote did not agree to it.
    ext_id: Option<u8>,
    histogram: DelayHistogram,
}

impl Media {
    /// New pipeline sending with `ssrc`; `ts0` and `seq0` are the random RTP starting points.
    pub fn new(ssrc: u32, seq0: u16, ts0: u32) -> Self {
        Media {
            ssrc,
            seq: seq0,
            ts: ts0,
            dtmf_event_ts: ts0,
            send: None,
            recv: RecvCodecs::default(),
            jitter: None,
            decoder: None,
            dtmf_rx: DtmfReceiver::new(),
            direction: Direction::SendRecv,
            players: VecDeque::new(),
            queue: VecDeque::new(),
            queue_rate: CANONICAL_RATE,
            resamplers: Vec::new(),
            src_buf: Vec::new(),
            sinks: Vec::new(),
            recorder: None,
            port: None,
            heard: Vec::new(),
            heard_rate: 8000,
            heard_ok: false,
            relayed_digits: Vec::new(),
            ticks: 0,
            stats: MediaStats::default(),
            frame: Vec::with_capacity(960),
            pcm: Vec::with_capacity(960),
            payload: Vec::with_capacity(512),
            highest_seq: None,
            seq_unwrap: crate::audio::seq::SeqUnwrapper::new(),
            first_ext_seq: 0,
            transit: None,
            rtp_timeout_ticks: 500,
            rtp_timed_out: false,
            was_connected: false,
            armed: false,
            dtmf_busy: false,
            pending: VecDeque::new(),
            opus_complexity: crate::audio::codec::DEFAULT_OPUS_COMPLEXITY,
            one_way: None,
            listener: Listener::new(),
            listen_resamplers: Vec::new(),
            listen_buf: Vec::with_capacity(crate::listen::RATE as usize / 50),
            listen_events: Vec::new(),
            digits: DigitDedup::default(),
            reframe: Default::default(),
        }
    }

    /// The detectors on the received audio (in-band DTMF, VAD, tones, AMD).
    pub fn listener_mut(&mut self) -> &mut Listener {
        &mut self.listener
    }

    /// Measure one-way delay (abs-send-time) once an extension id is set with
    /// [`Media::set_abs_send_time_id`]; allocates the histogram.
    pub fn enable_one_way_delay(&mut self) {
        self.one_way.get_or_insert_with(|| OneWayDelay {
            ext_id: None,
            histogram: DelayHistogram::default(),
        });
    }

    /// The negotiated abs-send-time extmap id (1-14, one-byte form), or
    /// `None` when not negotiated. Ignored unless measurement is enabled.
    pub fn set_abs_send_time_id(&mut self, id: Option<u8>) {
        if let Some(ow) = self.one_way.as_mut() {
            ow.ext_id = id.filter(|i| (1..=14).contains(i));
        }
    }

    /// Stamp an outgoing packet with its send time (since the UNIX epoch) if
    /// abs-send-time was negotiated.
    pub fn stamp_send_time(&self, pkt: &mut Packet, send_unix: std::time::Duration) {
        let Some(id) = self.one_way.as_ref().and_then(|o| o.ext_id) else {
            return;
        };
        let field = crate::delay::encode_abs_send_time(send_unix);
        // Cannot fail: id is 1-14 and 3 bytes fit the one-byte form.
        let _ = pkt.header.set_extension(id, Bytes::copy_from_slice(&field));
    }

    /// Take one delay sample from a received packet's abs-send-time, given
    /// its arrival time since the UNIX epoch.
    pub fn record_send_time(&mut self, pkt: &Packet, recv_unix: std::time::Duration) {
        let Some(ow) = self.one_way.as_mut() else {
            return;
        };
        let Some(id) = ow.ext_id else { return };
        let Some(sent) = pkt
            .header
            .get_extension(id)
            .and_then(|p| crate::delay::decode_abs_send_time(&p))
        else {
            return;
        };
        if let Some(d) = crate::delay::one_way_delay(sent, recv_unix) {
            ow.histogram.record(d);
        }
    }

    /// One-way delay samples, when measurement is enabled.
    pub fn one_way_delay(&self) -> Option<&DelayHistogram> {
        self.one_way.as_ref().map(|o| &o.histogram)
    }

    /// The negotiated send codec.
    pub fn send_codec(&self) -> Option<&SendCodec> {
        self.send.as_ref().map(|s| &s.codec)
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Apply a negotiation result. Keeps sources, sinks and counters; swaps
    /// codecs only when they changed (a hold re-INVITE changes nothing here).
    pub fn configure(&mut self, send: Option<SendCodec>, recv: RecvCodecs) -> Result<()> {
        let same = self.send.as_ref().map(|s| &s.codec) == send.as_ref();
        if !same {
            self.send = match send {
                None => None,
                Some(codec) => {
                    let encoder = Encoder::with_complexity(codec.kind, self.opus_complexity)
                        .map_err(|e| Error::Codec(e.to_string()))?;
                    // Events count in the audio clock even when telephone-event
                    // was negotiated at another rate (Firefox offers only
                    // telephone-event/8000 beside opus/48000): one RTP stream has
                    // one timeline, and libwebrtc's receiver places events and
                    // their durations on the audio's (as its sender does).
                    let dtmf = codec
                        .telephone_event
                        .map(|_| DtmfSender::new(codec.kind.clock_rate()));
                    Some(SendState {
                        codec,
                        encoder,
                        dtmf,
                    })
                }
            };
        }
        self.recv = recv;
        if !self.armed {
            self.armed = true;
            self.stats.last_rtp_tick = self.ticks;
        }
        Ok(())
    }

    /// Negotiated direction (from our point of view).
    pub fn set_direction(&mut self, d: Direction) {
        if d != self.direction {
            // A resumed call gets a fresh RTP-timeout window.
            self.stats.last_rtp_tick = self.ticks;
        }
        self.direction = d;
    }

    /// Opus encoder complexity (0-10) for the next codec change.
    pub fn set_opus_complexity(&mut self, c: i32) {
        self.opus_complexity = c.clamp(0, 10);
    }

    /// RTP inactivity timeout in 20 ms ticks; 0 disables it.
    pub fn set_rtp_timeout_ticks(&mut self, ticks: u64) {
        self.rtp_timeout_ticks = ticks;
    }

    /// Current direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// True when telephone-event is negotiated and we may send.
    pub fn can_send_dtmf(&self) -> bool {
        self.send.as_ref().is_some_and(|s| s.dtmf.is_some()) && self.direction.has_send()
    }

    /// Queue RFC 4733 digits (replacing any queued ones).
    pub fn send_dtmf(&mut self, tones: &str, duration_ms: u32, gap_ms: u32) -> Result<()> {
        if !self.direction.has_send() {
            return Err(Error::InvalidState(format!(
                "cannot send DTMF while the audio direction is {}",
                self.direction.as_str()
            )));
        }
        let send = self
            .send
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no audio negotiated yet".into()))?;
        let dtmf = send.dtmf.as_mut().ok_or_else(|| {
            Error::InvalidState("telephone-event was not negotiated with the remote peer".into())
        })?;
        dtmf.queue(tones, duration_ms, gap_ms)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.dtmf_busy = true;
        Ok(())
    }

    /// Queue PCM written by the application at `rate` (8000, 16000 or 48000).
    /// Queued audio keeps its rate; writing at a new rate drops what is still
    /// queued at the old one (a stream changes rate only at a boundary).
    pub fn write_pcm(&mut self, samples: &[i16], rate: u32) -> Result<()> {
        check_rate(rate)?;
        if rate != self.queue_rate {
            self.queue.clear();
            self.queue_rate = rate;
        }
        self.queue.extend(samples.iter().copied());
        let max = rate as usize / 1000 * MAX_QUEUED_MS;
        if self.queue.len() > max {
            let excess = self.queue.len() - max;
            self.queue.drain(..excess);
        }
        Ok(())
    }

    /// Start playing `samples` at `rate`; plays after any earlier play() ends.
    pub fn play(&mut self, id: u64, samples: &[i16], rate: u32, looped: bool) -> Result<()> {
        check_rate(rate)?;
        self.players.push_back(Player {
            id,
            samples: samples.to_vec(),
            rate,
            pos: 0,
            // Nothing to repeat: an empty looped play just ends.
            looped: looped && !samples.is_empty(),
        });
        Ok(())
    }

    /// Stop every pending and current play(); each reports `PlayEnded{stopped:true}`.
    pub fn stop_playback(&mut self, out: &mut Vec<MediaEvent>) {
        for p in self.players.drain(..) {
            out.push(MediaEvent::PlayEnded {
                id: p.id,
                stopped: true,
            });
        }
    }

    /// Deliver decoded audio to the application at `rate` in batches of
    /// `batch_ms`. Rates are independent sinks; subscribing again at a rate
    /// already subscribed changes only its batch size.
    pub fn subscribe_audio(&mut self, rate: u32, batch_ms: u32) -> Result<()> {
        check_rate(rate)?;
        let batch_ms = batch_ms.clamp(20, 1000) / 20 * 20;
        let batch_samples = (rate / 1000 * batch_ms) as usize;
        match self.sinks.iter_mut().find(|s| s.rate == rate) {
            Some(s) => s.batch_samples = batch_samples,
            None => self.sinks.push(AudioSink {
                rate,
                batch_samples,
                resamplers: Vec::new(),
                buf: Vec::new(),
            }),
        }
        Ok(())
    }

    /// Stop delivering decoded audio at `rate`, or at every rate for `None`.
    pub fn unsubscribe_audio(&mut self, rate: Option<u32>) {
        self.sinks.retain(|s| rate.is_some_and(|r| r != s.rate));
    }

    /// Record received audio, resampled to `rate`, into `sink`. A recording
    /// already running is finished first.
    pub fn start_recording(&mut self, rate: u32, sink: Box<dyn PcmSink>) -> Result<()> {
        self.start_recording_channels(rate, crate::graph::record::RecordChannels::Rx, sink)
    }

    /// Record `channels` (received, sent, both as stereo, or mixed) at
    /// `rate` into `sink`; a stereo sink takes interleaved frames.
    pub fn start_recording_channels(
        &mut self,
        rate: u32,
        channels: crate::graph::record::RecordChannels,
        sink: Box<dyn PcmSink>,
    ) -> Result<()> {
        check_rate(rate)?;
        self.stop_recording(None);
        self.recorder = Some(crate::graph::record::LegRecorder::new(channels, rate, sink));
        Ok(())
    }

    /// Duration of the running recording so far, in ms (0 when none).
    pub fn recording_duration_ms(&self) -> f64 {
        self.recorder.as_ref().map_or(0.0, |r| r.duration_ms())
    }

    /// Connect this call's audio to the graph through `port` (one end of a
    /// bridge, or a conference seat; see [`crate::graph`]): what this call
    /// hears goes to the port, and what the port gives (the other call's
    /// audio and RFC 4733 digits, or the conference mix) becomes this
    /// call's source. A port already attached is dropped (a bridge's far
    /// end detaches on its next tick).
    pub fn attach_port(&mut self, port: crate::graph::Port) {
        self.port = Some(port);
    }

    /// Drop the port with `id` (any port for `None`); true if one was attached.
    pub fn detach_port(&mut self, id: Option<u64>) -> bool {
        if self
            .port
            .as_ref()
            .is_some_and(|l| id.is_none_or(|i| l.id() == i))
        {
            self.port = None;
            return true;
        }
        false
    }

    /// The id of the graph port (bridge end or conference seat) attached, if any.
    pub fn port_id(&self) -> Option<u64> {
        self.port.as_ref().map(|l| l.id())
    }

    /// Finish the recording, if any; `done` learns when the file is complete
    /// (at once when nothing is recording).
    pub fn stop_recording(&mut self, done: Option<FinishCallback>) {
        match self.recorder.take() {
            Some(rec) => rec.finish(done),
            None => {
                if let Some(done) = done {
                    done(Ok(()));
                }
            }
        }
    }

    /// Counters.
    pub fn stats(&self) -> &MediaStats {
        &self.stats
    }

    /// Ticks elapsed.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// The sender part of an RTCP SR while we send: the RTP timestamp of the
    /// frame sent on this tick and the counts so far.
    pub fn sender_info(&self) -> Option<crate::rtcp::SenderInfo> {
        let send = self.send.as_ref()?;
        if !self.direction.has_send() {
            return None;
        }
        Some(crate::rtcp::SenderInfo {
            rtp_time: self.ts.wrapping_sub(send.codec.kind.rtp_frame_ticks()),
            packet_count: self.stats.packets_sent as u32,
            octet_count: self.stats.bytes_sent as u32,
        })
    }

    /// An RTCP report block's view of the stream we receive, once it started.
    pub fn reception(&self) -> Option<crate::rtcp::Reception> {
        let ssrc = self.stats.remote_ssrc?;
        let highest = self.highest_seq?;
        let rate = self
            .recv
            .audio
            .first()
            .map_or(8000, |(_, k)| k.clock_rate());
        Some(crate::rtcp::Reception {
            ssrc,
            highest_seq: highest as u32,
            expected: highest - self.first_ext_seq + 1,
            received: self.stats.packets_received,
            jitter: (self.stats.jitter_seconds * rate as f64) as u32,
        })
    }

    /// Feed one received RTP packet.
    pub fn on_rtp(
        &mut self,
        pkt: &Packet,
        arrival: std::time::Duration,
        out: &mut Vec<MediaEvent>,
    ) {
        let pt = pkt.header.payload_type;
        self.stats.packets_received += 1;
        self.stats.bytes_received += pkt.payload.len() as u64;
        self.stats.last_rtp_tick = self.ticks;
        self.rtp_timed_out = false;
        self.stats.remote_ssrc = Some(pkt.header.ssrc);
        self.track_loss_and_jitter(pkt, arrival);
        if !self.direction.has_recv() {
            return;
        }
        if self.recv.telephone_event.iter().any(|(p, _)| *p == pt) {
            if let Some(c) = self.dtmf_rx.on_packet(pkt.header.timestamp, &pkt.payload) {
                self.stats.dtmf_received += 1;
                if self.digits.admit(c, DigitSource::Rfc4733, self.ticks * 20) {
                    out.push(MediaEvent::Dtmf(c));
                }
                if let Some(link) = self.port.as_mut() {
                    link.push_dtmf(c);
                }
            }
            return;
        }
        let Some(kind) = self
            .recv
            .audio
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, k)| *k)
        else {
            return; // Unknown payload type: ignored, never fatal.
        };
        let jb = match &mut self.jitter {
            Some((k, jb)) if *k == kind => jb,
            slot => {
                *slot = Some((
                    kind,
                    JitterBuffer::new(kind.clock_rate(), kind.rtp_frame_ticks()),
                ));
                &mut slot.as_mut().expect("just set").1
            }
        };
        if matches!(kind, CodecKind::Pcmu | CodecKind::Pcma) {
            // Phones and trunks may send 10-60 ms packets (crate::audio::reframe).
            let frame = kind.samples_per_frame();
            self.reframe.push(
                pkt.header.sequence_number,
                pkt.header.timestamp,
                &pkt.payload,
                frame,
                &mut |seq, ts, p| jb.push(seq, ts, p),
            );
            return;
        }
        jb.push(
            pkt.header.sequence_number,
            pkt.header.timestamp,
            pkt.payload.clone(),
        );
    }

    fn track_loss_and_jitter(&mut self, pkt: &Packet, arrival: std::time::Duration) {
        let ext = self.seq_unwrap.unwrap(pkt.header.sequence_number);
        match self.highest_seq {
            None => {
                self.first_ext_seq = ext;
                self.highest_seq = Some(ext);
            }
            Some(h) if ext > h => self.highest_seq = Some(ext),
            _ => {}
        }
        let expected = self.highest_seq.unwrap_or(0) - self.first_ext_seq + 1;
        self.stats.packets_lost = expected as i64 - self.stats.packets_received as i64;
        // RFC 3550 §6.4.1 interarrival jitter; arrival time is an input.
        if let Some((_, kind)) = self.recv.audio.first() {
            let rate = kind.clock_rate() as i64;
            let arrival = (arrival.as_secs_f64() * rate as f64) as i64;
            let transit = arrival - pkt.header.timestamp as i64;
            if let Some(prev) = self.transit {
                let d = (transit - prev).abs() as f64 / rate as f64;
                if d < 10.0 {
                    self.stats.jitter_seconds += (d - self.stats.jitter_seconds) / 16.0;
                }
            }
            self.transit = Some(transit);
        }
    }

    /// One 20 ms step: returns the RTP packet to send, if any, and pushes events.
    pub fn tick(&mut self, connected: bool, out: &mut Vec<MediaEvent>) -> Option<Packet> {
        self.ticks += 1;
        if connected && !self.was_connected {
            self.stats.last_rtp_tick = self.ticks;
        }
        self.was_connected = connected;
        // Armed from the first negotiation, whatever rtc's state says: a peer
        // that vanished (or never sent) can leave the transport "connecting".
        // Only while sendrecv: a peer that holds us (sendonly) may legally
        // send nothing at all, and that must not end the call.
        if self.armed
            && self.rtp_timeout_ticks > 0
            && self.direction == Direction::SendRecv
            && !self.rtp_timed_out
            && self.ticks - self.stats.last_rtp_tick > self.rtp_timeout_ticks
        {
            self.rtp_timed_out = true;
            out.push(MediaEvent::RtpTimeout);
        }
        self.heard_ok = false;
        self.receive_tick(out);
        let pkt = self.send_tick(connected, out);
        self.graph_tick(connected, out);
        pkt
    }

    /// Hand this tick's audio to the recorder and the bridge, if any: one
    /// 20 ms frame each per tick, so both stay on the media clock.
    fn graph_tick(&mut self, connected: bool, out: &mut Vec<MediaEvent>) {
        if let Some(link) = self.port.as_mut() {
            if link.is_broken() {
                self.port = None;
            } else if self.heard_ok {
                link.push_heard(&self.heard, self.heard_rate);
            } else {
                let n = (self.heard_rate / 50) as usize;
                self.heard.clear();
                self.heard.resize(n, 0);
                link.push_heard(&self.heard, self.heard_rate);
            }
        }
        let Some(rec) = self.recorder.as_mut() else {
            return;
        };
        let heard = self.heard_ok.then_some((&self.heard[..], self.heard_rate));
        let sent = match &self.send {
            Some(s) if connected && self.direction.has_send() => {
                Some((&self.frame[..], s.codec.kind.clock_rate()))
            }
            _ => None,
        };
        match rec.tick(heard, sent) {
            SinkStatus::Ok => {}
            SinkStatus::Overrun => {
                log::warn!("recording cannot keep up; dropping audio");
                out.push(MediaEvent::Warning {
                    code: "recording-overrun",
                    message: "the recording cannot keep up (slow disk or an undrained FIFO); audio is being dropped".into(),
                });
            }
            SinkStatus::Failed(msg) => {
                log::warn!("{msg}; recording stopped");
                out.push(MediaEvent::Warning {
                    code: "recording-failed",
                    message: format!("{msg}; recording stopped"),
                });
                if let Some(rec) = self.recorder.take() {
                    rec.finish(None);
                }
            }
        }
    }

    /// Fill `self.frame` with the next 20 ms at `out_rate` from the current
    /// source (players first, then PCM written by JS); silence if none.
    fn next_source_frame(&mut self, out_rate: u32, out: &mut Vec<MediaEvent>) {
        let spf = (out_rate / 50) as usize;
        self.frame.clear();
        while self.frame.len() < spf {
            let Some(p) = self.players.front_mut() else {
                break;
            };
            let want_in = (spf - self.frame.len()) * p.rate as usize / out_rate as usize;
            let n = want_in.max(1).min(p.samples.len() - p.pos);
            let (from, chunk) = (p.rate, &p.samples[p.pos..p.pos + n]);
            convert(&mut self.resamplers, from, out_rate, chunk, &mut self.frame);
            p.pos += n;
            if p.pos >= p.samples.len() && p.looped {
                p.pos = 0;
            } else if p.pos >= p.samples.len() {
                let id = p.id;
                self.players.pop_front();
                out.push(MediaEvent::PlayEnded { id, stopped: false });
            }
        }
        if self.frame.is_empty() {
            if let Some(link) = self.port.as_mut() {
                link.pull(out_rate, &mut self.frame, &mut self.relayed_digits);
                for c in std::mem::take(&mut self.relayed_digits) {
                    self.relay_digit(c, out_rate);
                }
            }
        }
        if self.frame.is_empty() && !self.queue.is_empty() {
            let n = (spf * self.queue_rate as usize / out_rate as usize).min(self.queue.len());
            self.src_buf.clear();
            self.src_buf.extend(self.queue.drain(..n));
            convert(
                &mut self.resamplers,
                self.queue_rate,
                out_rate,
                &self.src_buf,
                &mut self.frame,
            );
        }
        self.frame.resize(spf, 0);
    }

    /// A digit from the bridged call, in the form this leg negotiated:
    /// RFC 4733 when it can, else in-band tones.
    fn relay_digit(&mut self, c: char, rate: u32) {
        let can = self.can_send_dtmf();
        match self.send.as_mut().and_then(|s| s.dtmf.as_mut()) {
            Some(dtmf) if can => {
                if dtmf.append(c, 100, 70).is_ok() {
                    self.dtmf_busy = true;
                }
            }
            _ => {
                if let Some(link) = self.port.as_mut() {
                    link.play_inband(c, rate);
                }
            }
        }
    }

    fn send_tick(&mut self, connected: bool, out: &mut Vec<MediaEvent>) -> Option<Packet> {
        self.pending.clear();
        // Sources advance with the clock even when nothing is sent, so a
        // play() on hold still ends on time.
        let rate = self
            .send
            .as_ref()
            .map_or(CANONICAL_RATE, |s| s.codec.kind.sample_rate());
        self.next_source_frame(rate, out);
        let send = self.send.as_mut()?;
        // G.722 encodes 320 samples per frame on an 8000 Hz clock: 160 ticks.
        let frame_samples = send.codec.kind.rtp_frame_ticks();
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(frame_samples);
        if !connected || !self.direction.has_send() {
            return None;
        }
        if let (Some(dtmf), Some((te_pt, _))) = (send.dtmf.as_mut(), send.codec.telephone_event) {
            let tick = dtmf.tick();
            if self.dtmf_busy && !dtmf.is_busy() {
                self.dtmf_busy = false;
                out.push(MediaEvent::ToneChange(None));
            }
            if let Some(p) = tick {
                if p.marker {
                    out.push(MediaEvent::ToneChange(crate::dtmf::event_to_char(p.event)));
                }
                // RFC 4733 §2.5.1.2: all packets of one event (segment) carry
                // its start timestamp, on the audio's timeline: the sender
                // counts in the audio clock (see `configure`).
                self.dtmf_event_ts = ts.wrapping_sub(p.timestamp_offset);
                let payload = Bytes::copy_from_slice(&p.payload);
                let pkt = self.packet(te_pt, self.dtmf_event_ts, p.marker, payload.clone());
                // The end packet's copies go out now, back to back (see
                // `dtmf::END_PACKETS` for why not on later ticks).
                for _ in 1..p.copies {
                    let copy = self.packet(te_pt, self.dtmf_event_ts, false, payload.clone());
                    self.pending.push_back(copy);
                }
                // The event covers this tick's media: no audio for it.
                return Some(pkt);
            }
        }
        let send = self.send.as_mut()?;
        self.payload.clear();
        if send.encoder.encode(&self.frame, &mut self.payload).is_err() {
            return None;
        }
        self.stats.frames_encoded += 1;
        let pt = send.codec.pt;
        let payload = Bytes::copy_from_slice(&self.payload);
        Some(self.packet(pt, ts, false, payload))
    }

    /// A further packet for the tick just run by [`Media::tick`] (the copies
    /// of an RFC 4733 end packet); call until `None`.
    pub fn next_packet(&mut self) -> Option<Packet> {
        self.pending.pop_front()
    }

    fn packet(&mut self, pt: u8, ts: u32, marker: bool, payload: Bytes) -> Packet {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += payload.len() as u64;
        Packet {
            header: Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        }
    }

    fn receive_tick(&mut self, out: &mut Vec<MediaEvent>) {
        let Some((kind, jb)) = self.jitter.as_mut() else {
            return;
        };
        let kind = *kind;
        let payload = match jb.pop() {
            JitterOut::Frame(b) => Some(b),
            JitterOut::Lost => None,
            JitterOut::Empty => return,
        };
        if self.sinks.is_empty()
            && self.recorder.is_none()
            && self.port.is_none()
            && payload.is_none()
        {
            // Nobody listens and there is nothing to decode: skip PLC work.
            self.stats.concealed_frames += 1;
            return;
        }
        let dec = match &mut self.decoder {
            Some((k, d)) if *k == kind => d,
            slot => match Decoder::new(kind) {
                Ok(d) => {
                    *slot = Some((kind, d));
                    &mut slot.as_mut().expect("just set").1
                }
                Err(_) => return,
            },
        };
        self.pcm.clear();
        if payload.is_none() {
            self.stats.concealed_frames += 1;
        }
        if dec.decode(payload.as_deref(), &mut self.pcm).is_err() {
            return;
        }
        self.stats.frames_decoded += 1;
        let energy: f64 = self
            .pcm
            .iter()
            .map(|&s| (s as f64 / 32768.0).powi(2))
            .sum::<f64>();
        let rate = kind.sample_rate();
        self.stats.total_audio_energy += energy / rate as f64;
        self.stats.audio_level = (energy / self.pcm.len().max(1) as f64).sqrt();
        let pcm = std::mem::take(&mut self.pcm);
        if self.listener.active() {
            self.listen(rate, &pcm, out);
        }
        for sink in self.sinks.iter_mut() {
            convert(&mut sink.resamplers, rate, sink.rate, &pcm, &mut sink.buf);
            while sink.buf.len() >= sink.batch_samples {
                let rest = sink.buf.split_off(sink.batch_samples);
                let samples = std::mem::replace(&mut sink.buf, rest);
                out.push(MediaEvent::Audio {
                    samples,
                    sample_rate: sink.rate,
                });
            }
        }
        if self.recorder.is_some() || self.port.is_some() {
            self.heard.clear();
            self.heard.extend_from_slice(&pcm);
            self.heard_rate = rate;
            self.heard_ok = true;
        }
        self.pcm = pcm;
    }
}

impl Media {
    /// Run the detectors on one decoded frame; in-band digits go through
    /// the same once-per-press filter as RFC 4733 ones.
    fn listen(&mut self, rate: u32, pcm: &[i16], out: &mut Vec<MediaEvent>) {
        self.listen_buf.clear();
        convert(
            &mut self.listen_resamplers,
            rate,
            crate::listen::RATE,
            pcm,
            &mut self.listen_buf,
        );
        self.listener
            .push(&self.listen_buf, &mut self.listen_events);
        let now_ms = self.ticks * 20;
        for ev in self.listen_events.drain(..) {
            if let ListenEvent::Dtmf(c) = ev {
                if !self.digits.admit(c, DigitSource::Inband, now_ms) {
                    continue;
                }
                self.stats.dtmf_received += 1;
            }
            out.push(MediaEvent::Listen(ev));
        }
    }
}

fn check_rate(rate: u32) -> Result<()> {
    if [8000, 16000, 48000].contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "sampleRate must be 8000, 16000 or 48000, got {rate}"
        )))
    }
}

/// Append `input` (at `from`) to `out` at `to`, reusing a cached resampler.
pub(crate) fn convert(
    cache: &mut Vec<((u32, u32), Resampler)>,
    from: u32,
    to: u32,
    input: &[i16],
    out: &mut Vec<i16>,
) {
    if from == to {
        out.extend_from_slice(input);
        return;
    }
    let idx = match cache.iter().position(|(k, _)| *k == (from, to)) {
        Some(i) => i,
        None => match Resampler::new(from, to) {
            Ok(r) => {
                cache.push(((from, to), r));
                cache.len() - 1
            }
            Err(_) => return,
        },
    };
    cache[idx].1.process(input, out);
}

/// Bring PCM at any rate to one the pipeline accepts: 8, 16 and 48 kHz pass
/// through; anything else (44.1 kHz WAVs, say) is linearly interpolated to 48 kHz.
pub fn to_supported_rate(samples: Vec<i16>, rate: u32) -> Result<(Vec<i16>, u32)> {
    if [8000, 16000, 48000].contains(&rate) {
        return Ok((samples, rate));
    }
    if !(4000..=192_000).contains(&rate) {
        return Err(Error::InvalidArgument(format!(
            "unsupported sample rate {rate} Hz"
        )));
    }
    let n_out = (samples.len() as u64 * CANONICAL_RATE as u64 / rate as u64) as usize;
    let mut out = Vec::with_capacity(n_out);
    for i in 0..n_out {
        let pos = i as f64 * rate as f64 / CANONICAL_RATE as f64;
        let k = pos as usize;
        let frac = pos - k as f64;
        let a = samples.get(k).copied().unwrap_or(0) as f64;
        let b = samples.get(k + 1).copied().unwrap_or(a as i16) as f64;
        out.push((a + (b - a) * frac).round() as i16);
    }
    Ok((out, CANONICAL_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::DtmfPayload;

    fn pair(kind: CodecKind, pt: u8, te: Option<(u8, u32)>) -> (Media, Media) {
        let send = SendCodec {
            kind,
            pt,
            telephone_event: te,
        };
        let recv = RecvCodecs {
            audio: vec![(pt, kind)],
            telephone_event: te.into_iter().collect(),
        };
        let mut a = Media::new(1, 100, 1000);
        let mut b = Media::new(2, 65530, u32::MAX - 500);
        a.configure(Some(send.clone()), recv.clone()).unwrap();
        b.configure(Some(send), recv).unwrap();
        (a, b)
    }

    fn run(a: &mut Media, b: &mut Media, ticks: usize) -> (Vec<MediaEvent>, Vec<MediaEvent>) {
        let (mut ea, mut eb) = (vec![], vec![]);
        for _ in 0..ticks {
            if let Some(p) = a.tick(true, &mut ea) {
                b.on_rtp(
                    &p,
                    std::time::Duration::from_millis(20 * b.ticks()),
                    &mut eb,
                );
            }
            if let Some(p) = b.tick(true, &mut eb) {
                a.on_rtp(
                    &p,
                    std::time::Duration::from_millis(20 * a.ticks()),
                    &mut ea,
                );
            }
        }
        (ea, eb)
    }

    fn heard(events: &[MediaEvent]) -> Vec<i16> {
        events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Audio { samples, .. } => Some(samples.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn tone_crosses_each_codec() {
        for (kind, pt) in [
            (CodecKind::Opus, 111),
            (CodecKind::G722, 9),
            (CodecKind::Pcmu, 0),
            (CodecKind::Pcma, 8),
            (CodecKind::G729, 18),
        ] {
            let (mut a, mut b) = pair(kind, pt, None);
            a.write_pcm(&crate::tone::sine(1000.0, 16000, 16000, 8000), 16000)
                .unwrap();
            b.subscribe_audio(16000, 100).unwrap();
            let (_, eb) = run(&mut a, &mut b, 50);
            let pcm = heard(&eb);
            let tail = &pcm[pcm.len() / 2..];
            let f = crate::tone::dominant_frequency(tail, 16000).expect("tone heard");
            assert!((f - 1000.0).abs() < 20.0, "{kind:?}: heard {f} Hz");
        }
    }

    /// RFC 3551 §4.5.2: G.722 encodes 320 samples per 20 ms but stamps
    /// them on an 8000 Hz clock, so timestamps advance by 160, payloads are
    /// 160 bytes, and the receiver hears wideband audio at the right pitch.
    #[test]
    fn g722_timestamps_count_8000_hz_and_audio_stays_wideband() {
        let (mut a, mut b) = pair(CodecKind::G722, 9, None);
        // 6 kHz only exists in wideband audio: G.711 and G.729 cannot carry it.
        a.write_pcm(&crate::tone::sine(6000.0, 16000, 16000, 8000), 16000)
            .unwrap();
        b.subscribe_audio(16000, 100).unwrap();
        let mut ev = vec![];
        let pkts: Vec<Packet> = (0..50).filter_map(|_| a.tick(true, &mut ev)).collect();
        assert_eq!(pkts.len(), 50);
        for w in pkts.windows(2) {
            assert_eq!(
                w[1].header.timestamp.wrapping_sub(w[0].header.timestamp),
                160
            );
        }
        assert!(pkts
            .iter()
            .all(|p| p.payload.len() == 160 && p.header.payload_type == 9));
        let sr = a.sender_info().unwrap();
        assert_eq!(sr.rtp_time, pkts[49].header.timestamp);
        for p in &pkts {
            b.on_rtp(p, std::time::Duration::ZERO, &mut ev);
            b.tick(true, &mut ev);
        }
        let pcm = heard(&ev);
        let tail = &pcm[pcm.len() / 2..];
        assert!(crate::tone::rms(tail) > 3000.0);
        // Through an 8 kHz path 6 kHz would vanish or fold to 2 kHz.
        let p6 = crate::tone::goertzel_power(tail, 16000, 6000.0);
        let p2 = crate::tone::goertzel_power(tail, 16000, 2000.0);
        assert!(p6 > 1000.0 * p2, "6 kHz power {p6}, 2 kHz {p2}");
    }

    #[test]
    fn subscribers_at_two_rates_each_get_every_frame() {
        let (mut a, mut b) = pair(CodecKind::Opus, 111, None);
        a.write_pcm(&crate::tone::sine(1000.0, 16000, 16000, 8000), 16000)
            .unwrap();
        b.subscribe_audio(16000, 100).unwrap();
        b.subscribe_audio(8000, 20).unwrap();
        let (_, eb) = run(&mut a, &mut b, 50);
        let at = |rate: u32| -> Vec<i16> {
            eb.iter()
                .filter_map(|e| match e {
                    MediaEvent::Audio {
                        samples,
                        sample_rate,
                    } if *sample_rate == rate => Some(samples.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let (wide, narrow) = (at(16000), at(8000));
        // The same stretch of audio at each rate (within one batch of 100 ms).
        assert!(
            wide.len() >= 8000 && narrow.len() >= 4000,
            "{} {}",
            wide.len(),
            narrow.len()
        );
        assert!((wide.len() as i64 / 2 - narrow.len() as i64).abs() <= 800);
        for (pcm, rate) in [(&wide, 16000), (&narrow, 8000)] {
            let f = crate::tone::dominant_frequency(&pcm[pcm.len() / 2..], rate).unwrap();
            assert!((f - 1000.0).abs() < 20.0, "{rate}: {f}");
        }
        // Unsubscribing one rate leaves the other.
        b.unsubscribe_audio(Some(8000));
        let (_, eb) = run(&mut a, &mut b, 10);
        assert!(eb.iter().all(|e| !matches!(
            e,
            MediaEvent::Audio {
                sample_rate: 8000,
                ..
            }
        )));
        assert!(eb.iter().any(|e| matches!(
            e,
            MediaEvent::Audio {
                sample_rate: 16000,
                ..
            }
        )));
        b.unsubscribe_audio(None);
        let (_, eb) = run(&mut a, &mut b, 10);
        assert!(!eb.iter().any(|e| matches!(e, MediaEvent::Audio { .. })));
    }

    #[test]
    fn dtmf_digits_arrive_once() {
        for rate in [8000, 48000] {
            let (mut a, mut b) = pair(CodecKind::Opus, 111, Some((101, rate)));
            a.send_dtmf("123#*A", 100, 70).unwrap();
            let (ea, eb) = run(&mut a, &mut b, 100);
            let digits: String = eb
                .iter()
                .filter_map(|e| match e {
                    MediaEvent::Dtmf(c) => Some(*c),
                    _ => None,
                })
                .collect();
            assert_eq!(digits, "123#*A", "telephone-event/{rate}");
            // W3C tonechange on the sender: each tone as it starts, then "".
            let tones: Vec<Option<char>> = ea
                .iter()
                .filter_map(|e| match e {
                    MediaEvent::ToneChange(t) => Some(*t),
                    _ => None,
                })
                .collect();
            let want: Vec<Option<char>> = "123#*A".chars().map(Some).chain([None]).collect();
            assert_eq!(tones, want);
        }
    }

    fn digits_heard(events: &[MediaEvent]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Dtmf(c) | MediaEvent::Listen(ListenEvent::Dtmf(c)) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn inband(keys: &str) -> Vec<i16> {
        let mut v = vec![0i16; 800];
        for k in keys.chars() {
            v.extend(crate::listen::inband_dtmf::synthesize(
                k, 100, 6000.0, 0.0, 0.0,
            ));
            v.extend(vec![0i16; 640]);
        }
        v
    }

    #[test]
    fn inband_dtmf_crosses_each_codec() {
        for (kind, pt) in [
            (CodecKind::Pcmu, 0),
            (CodecKind::Pcma, 8),
            (CodecKind::Opus, 111),
        ] {
            let (mut a, mut b) = pair(kind, pt, None);
            a.write_pcm(&inband("159#0*"), 8000).unwrap();
            let (_, eb) = run(&mut a, &mut b, 150);
            assert_eq!(digits_heard(&eb), "159#0*", "{kind:?}");
            assert!(eb.iter().all(|e| !matches!(e, MediaEvent::Dtmf(_))));
            // Off: nothing.
            let (mut a, mut b) = pair(kind, pt, None);
            b.listener_mut().set_inband_dtmf(false);
            a.write_pcm(&inband("159#0*"), 8000).unwrap();
            let (_, eb) = run(&mut a, &mut b, 150);
            assert_eq!(digits_heard(&eb), "", "{kind:?} off");
        }
    }

    /// A peer that sends each press both ways is heard once per press.
    #[test]
    fn rfc4733_and_inband_copies_count_once() {
        let (mut a, mut b) = pair(CodecKind::Pcmu, 0, Some((101, 8000)));
        let (mut c, _) = pair(CodecKind::Pcmu, 0, Some((101, 8000)));
        a.write_pcm(&inband("1125"), 8000).unwrap();
        // c's RFC 4733 events, started with a's tones (100 ms on, 80 off).
        c.send_dtmf("1125", 100, 80).unwrap();
        let (mut ea, mut eb) = (vec![], vec![]);
        for _ in 0..120 {
            if let Some(p) = a.tick(true, &mut ea) {
                b.on_rtp(&p, std::time::Duration::ZERO, &mut eb);
            }
            let mut pkts: Vec<Packet> = c.tick(true, &mut ea).into_iter().collect();
            pkts.extend(c.next_packet());
            for p in pkts.iter().filter(|p| p.header.payload_type == 101) {
                b.on_rtp(p, std::time::Duration::ZERO, &mut eb);
            }
            b.tick(true, &mut eb);
        }
        assert_eq!(digits_heard(&eb), "1125");
        assert!(eb.iter().any(|e| matches!(e, MediaEvent::Dtmf(_))));
    }

    /// Every packet a DTMF sender emits, against RFC 4733 §2.3-2.5 and what
    /// libwebrtc's receiver (NetEq) needs: per event one timestamp on the
    /// audio's timeline, the marker on the first packet only, durations
    /// growing by a frame, three identical end packets sent together on the
    /// event's last tick (a later repeat can reach NetEq after it played the
    /// event, and it plays the tone again), sequence numbers shared with
    /// audio, and no overlap and no hole between the event and the audio
    /// around it; the inter-tone gap is kept.
    #[test]
    fn dtmf_packets_follow_rfc4733() {
        for (kind, pt, te_rate) in [
            (CodecKind::Pcmu, 0, 8000),
            (CodecKind::Opus, 111, 8000), // Firefox: telephone-event/8000 only
            (CodecKind::Opus, 111, 48000),
            (CodecKind::G722, 9, 8000), // 16 kHz audio, 8000 Hz RTP clock
            (CodecKind::G729, 18, 8000),
        ] {
            let what = format!("{kind:?} + telephone-event/{te_rate}");
            let (mut a, mut b) = pair(kind, pt, Some((101, te_rate)));
            let clock = kind.clock_rate();
            let frame = kind.rtp_frame_ticks();
            let mut ev = vec![];
            let mut pkts: Vec<(usize, Packet)> = vec![];
            for t in 0..5 {
                pkts.push((t, a.tick(true, &mut ev).unwrap()));
                assert!(a.next_packet().is_none());
            }
            a.send_dtmf("1234", 100, 70).unwrap();
            for t in 5..80 {
                let mut next = a.tick(true, &mut ev);
                let mut n = 0;
                while let Some(p) = next {
                    pkts.push((t, p));
                    n += 1;
                    next = a.next_packet();
                }
                assert!((1..=3).contains(&n), "{what}: {n} packets on tick {t}");
            }
            // Sequence numbers: one counter for audio and events, no gaps.
            for w in pkts.windows(2) {
                let (s0, s1) = (w[0].1.header.sequence_number, w[1].1.header.sequence_number);
                assert_eq!(s1, s0.wrapping_add(1), "{what}: sequence");
            }
            let audio: Vec<&(usize, Packet)> = pkts
                .iter()
                .filter(|p| p.1.header.payload_type == pt)
                .collect();
            let te: Vec<&(usize, Packet)> = pkts
                .iter()
                .filter(|p| p.1.header.payload_type == 101)
                .collect();
            assert!(audio.iter().all(|p| !p.1.header.marker));
            // Group event packets by timestamp, in order.
            // (timestamp, [(tick, payload, marker)]) per event.
            type Event = (u32, Vec<(usize, DtmfPayload, bool)>);
            let mut events: Vec<Event> = vec![];
            for (t, p) in &te {
                let d = DtmfPayload::parse(&p.payload).unwrap();
                match events.last_mut() {
                    Some((ts, v)) if *ts == p.header.timestamp => v.push((*t, d, p.header.marker)),
                    _ => events.push((p.header.timestamp, vec![(*t, d, p.header.marker)])),
                }
            }
            assert_eq!(events.len(), 4, "{what}: one timestamp per event");
            let want_dur = (100 * clock / 1000) as u16; // in the audio clock
            let mut covered: Vec<(u32, u32)> = audio
                .iter()
                .map(|p| (p.1.header.timestamp, frame))
                .collect();
            for (i, (ts, v)) in events.iter().enumerate() {
                let digit = "1234".as_bytes()[i] - b'0';
                assert!(v.iter().all(|x| x.1.event == digit), "{what}: event code");
                assert!(
                    v[0].2 && v[1..].iter().all(|x| !x.2),
                    "{what}: marker on the first packet only"
                );
                let ends: Vec<_> = v.iter().filter(|x| x.1.end).collect();
                assert_eq!(ends.len(), 3, "{what}: the end packet is sent 3 times");
                assert!(
                    ends.iter().all(|x| x.1.duration == want_dur),
                    "{what}: end duration"
                );
                assert!(
                    v[v.len() - 3..].iter().all(|x| x.1.end),
                    "{what}: nothing after the ends"
                );
                let growing: Vec<u16> = v[..v.len() - 2].iter().map(|x| x.1.duration).collect();
                let want: Vec<u16> = (1..=growing.len() as u32)
                    .map(|k| (k * frame) as u16)
                    .collect();
                assert_eq!(
                    growing, want,
                    "{what}: duration grows by a frame per packet"
                );
                // One packet per tick, the three ends together on the last.
                let ticks: Vec<usize> = v.iter().map(|x| x.0).collect();
                let (once, ends_at) = ticks.split_at(ticks.len() - 3);
                assert!(
                    once.windows(2).all(|w| w[1] == w[0] + 1)
                        && ends_at.iter().all(|t| *t == once[once.len() - 1] + 1),
                    "{what}: {ticks:?}"
                );
                // The event covers its ticks: no audio on them.
                for x in v.iter() {
                    assert!(
                        !audio.iter().any(|p| p.0 == x.0),
                        "{what}: audio beside tick {}",
                        x.0
                    );
                }
                covered.push((*ts, u32::from(want_dur)));
                if i > 0 {
                    let prev_end = events[i - 1].0.wrapping_add(u32::from(want_dur));
                    let gap = ts.wrapping_sub(prev_end);
                    assert!(gap >= 70 * clock / 1000, "{what}: gap {gap} between events");
                }
            }
            // The audio timeline: audio frames and events tile it exactly,
            // with neither overlaps nor holes (a hole is concealed by the
            // receiver, which stretches the last tone into a second digit).
            let base = covered[0].0;
            covered.sort_by_key(|c| c.0.wrapping_sub(base));
            for w in covered.windows(2) {
                assert_eq!(
                    w[0].0.wrapping_add(w[0].1),
                    w[1].0,
                    "{what}: timeline {:?} -> {:?}",
                    w[0],
                    w[1]
                );
            }
            // And the receiving side hears each digit once.
            for (_, p) in &pkts {
                b.on_rtp(p, std::time::Duration::ZERO, &mut ev);
            }
            let mut got = String::new();
            for e in &ev {
                if let MediaEvent::Dtmf(c) = e {
                    got.push(*c);
                }
            }
            assert_eq!(got, "1234", "{what}");
        }
    }

    #[test]
    fn hold_stops_sending_and_play_still_ends() {
        let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
        a.set_direction(Direction::RecvOnly);
        a.play(7, &vec![1000; 8000], 8000, false).unwrap();
        let (ea, _) = run(&mut a, &mut b, 60);
        assert_eq!(b.stats().packets_received, 0);
        assert!(ea.contains(&MediaEvent::PlayEnded {
            id: 7,
            stopped: false
        }));
    }

    #[test]
    fn looped_play_repeats_until_stopped_then_the_next_plays() {
        let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
        // 100 ms of tone, looped: still going after 1 s, no PlayEnded.
        a.play(1, &crate::tone::sine(1000.0, 8000, 800, 8000), 8000, true)
            .unwrap();
        a.play(2, &[0; 160], 8000, false).unwrap();
        b.subscribe_audio(8000, 100).unwrap();
        let (ea, eb) = run(&mut a, &mut b, 50);
        assert!(!ea.iter().any(|e| matches!(e, MediaEvent::PlayEnded { .. })));
        let pcm = heard(&eb);
        let f = crate::tone::dominant_frequency(&pcm[pcm.len() / 2..], 8000).expect("tone heard");
        assert!((f - 1000.0).abs() < 20.0, "heard {f} Hz");
        let mut ev = vec![];
        a.stop_playback(&mut ev);
        assert_eq!(
            ev,
            vec![
                MediaEvent::PlayEnded {
                    id: 1,
                    stopped: true
                },
                MediaEvent::PlayEnded {
                    id: 2,
                    stopped: true
                }
            ]
        );
        // Empty and looped: ends at once rather than spinning.
        a.play(3, &[], 8000, true).unwrap();
        let (ea, _) = run(&mut a, &mut b, 2);
        assert!(ea.contains(&MediaEvent::PlayEnded {
            id: 3,
            stopped: false
        }));
    }

    #[test]
    fn rtp_timeout_fires_once_and_rearms() {
        let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
        a.set_rtp_timeout_ticks(10);
        run(&mut a, &mut b, 20);
        let mut ev = vec![];
        for _ in 0..30 {
            a.tick(true, &mut ev); // b went silent
        }
        assert_eq!(
            ev.iter().filter(|e| **e == MediaEvent::RtpTimeout).count(),
            1
        );
        let (ea, _) = run(&mut a, &mut b, 5);
        assert!(!ea.contains(&MediaEvent::RtpTimeout), "RTP flowing again");
    }

    #[test]
    fn one_way_delay_is_the_injected_transit_time() {
        use rtc::rtp::packet::Packet as RtpPacket;
        use rtc::shared::marshal::{Marshal, Unmarshal};
        use std::time::{Duration, Instant, SystemTime};
        let (mut a, mut b) = pair(CodecKind::Pcmu, 0, None);
        a.enable_one_way_delay();
        b.enable_one_way_delay();
        a.set_abs_send_time_id(Some(3));
        b.set_abs_send_time_id(Some(3));
        let t0 = Instant::now();
        // Anchored 5 ms before a 64 s wrap, so some packets cross it.
        let anchor = crate::delay::WallAnchor::new(
            t0,
            SystemTime::UNIX_EPOCH + Duration::from_millis(64 * 1000 * 26_000_000 - 5),
        );
        let transit = Duration::from_micros(7_320);
        let mut ev = vec![];
        for i in 0..50u32 {
            let sent_at = t0 + Duration::from_millis(20) * i;
            let mut pkt = a.tick(true, &mut ev).expect("sending");
            a.stamp_send_time(&mut pkt, anchor.unix_time(sent_at));
            // Through the wire format: the one-byte extension must survive.
            let wire = pkt.marshal().unwrap();
            let pkt = RtpPacket::unmarshal(&mut &wire[..]).unwrap();
            assert_eq!(pkt.header.extension_profile, 0xBEDE);
            b.record_send_time(&pkt, anchor.unix_time(sent_at + transit));
            b.on_rtp(&pkt, Duration::from_millis(20) * i, &mut ev);
        }
        let h = b.one_way_delay().unwrap();
        assert_eq!(h.samples(), 50);
        // 7.32 ms lies in the 0.5 ms bin [7, 7.5): both quantiles report 7.25 ms.
        assert!((h.quantile(0.5).unwrap() - 0.007_25).abs() < 1e-9);
        assert!((h.quantile(0.99).unwrap() - 0.007_25).abs() < 1e-9);
        // No id negotiated: no extension written, no samples taken.
        b.set_abs_send_time_id(None);
        a.set_abs_send_time_id(None);
        let mut pkt = a.tick(true, &mut ev).unwrap();
        a.stamp_send_time(&mut pkt, anchor.unix_time(t0));
        assert!(!pkt.header.extension);
        b.record_send_time(&pkt, anchor.unix_time(t0));
        assert_eq!(b.one_way_delay().unwrap().samples(), 50);
        // Disabled (the default): nothing allocated.
        let (c, _) = pair(CodecKind::Pcmu, 0, None);
        assert!(c.one_way_delay().is_none());
    }

    #[test]
    fn dtmf_refused_without_telephone_event() {
        let (mut a, _) = pair(CodecKind::Pcmu, 0, None);
        assert_eq!(
            a.send_dtmf("1", 100, 70).unwrap_err().code(),
            "ERR_INVALID_STATE"
        );
    }
}
