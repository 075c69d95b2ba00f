//! The per-call audio pipeline, as a sans-IO state machine.
//!
//! Send: source (player, PCM written by JS, or silence) at 48 kHz -> resample to
//! the codec rate -> encode -> RTP. RFC 4733 events pre-empt audio while a
//! digit is being sent. Receive: RTP -> telephone-event to the DTMF receiver,
//! audio to the jitter buffer -> decode (PLC for gaps) -> sinks (batched PCM
//! for JS, WAV recorder). [`Media::tick`] is called once per 20 ms by the I/O
//! shard; nothing here reads a clock or touches a socket.

use crate::audio::codec::{CodecKind, Decoder, Encoder};
use crate::audio::jitter::JitterBuffer;
use crate::audio::resample::Resampler;
use crate::dtmf::{DtmfReceiver, DtmfSender};
use crate::error::{Error, Result};
use crate::listen::{DigitDedup, ListenEvent, Listener};
use crate::sdp::Direction;
use rtc::rtp::packet::Packet;
use std::collections::VecDeque;

mod one_way;
mod rate;
mod receive;
mod send;
#[cfg(test)]
mod tests;
mod tick;

use one_way::OneWayDelay;
use rate::check_rate;
pub(crate) use rate::convert;
pub use rate::to_supported_rate;

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

/// What a [`PcmSink`] says about a batch. A sink may say `Overrun` or
/// `Failed` some batches late (the file-writing one checks every 200 ms).
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
}
