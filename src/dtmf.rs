//! RFC 4733 telephone-event (DTMF) encoding and decoding, sans-IO.
//!
//! Bots send and receive DTMF digits as RTP `telephone-event` packets rather
//! than in-band tones. [`DtmfSender`] turns a digit string into one packet
//! per 20 ms media tick (marker on the first packet, growing duration, the
//! end packet three times on the last tick, inter-tone gaps, `,` pauses);
//! [`DtmfReceiver`] turns
//! received packets back into digits, reporting each event exactly once.
//! Neither reads a clock: time advances by calls to [`DtmfSender::tick`].
//!
//! Sender and receiver share one file (their tests are in `dtmf/tests.rs`):
//! they are the two halves of one payload format and its digit table.

use std::collections::VecDeque;

/// Tick length the sender assumes (one packet per media tick).
pub const TICK_MS: u32 = 20;
/// Length of a `,` pause.
pub const PAUSE_MS: u32 = 2000;
/// Default volume field (-10 dBm0).
pub const DEFAULT_VOLUME: u8 = 10;
/// Number of times the end packet is sent (RFC 4733 §2.5.1.4), back to back
/// on the event's last tick as libwebrtc does. Spaced one tick apart, as the
/// RFC suggests, the repeats reach a receiver with a short jitter buffer
/// after it has played the event out: libwebrtc's NetEq (Chrome, Firefox,
/// Safari) has then dropped the event from its DTMF buffer, takes a repeat
/// for a new event that already ended and plays 10 ms of the tone once more
/// after the gap, heard as the digit twice (Firefox over PCMU, ~20 ms buffer).
pub const END_PACKETS: u32 = 3;

/// Errors from DTMF parsing and queueing.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DtmfError {
    /// Payload shorter than the 4-byte telephone-event header.
    #[error("telephone-event payload too short ({0} bytes)")]
    TooShort(usize),
    /// A character that is not a DTMF tone or `,`.
    #[error("invalid DTMF tone {0:?}")]
    InvalidTone(char),
}

/// Maps a DTMF character to its RFC 4733 event code: `0`-`9` -> 0-9,
/// `*` -> 10, `#` -> 11, `A`-`D` -> 12-15 (case-insensitive).
pub fn char_to_event(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        l @ 'A'..='D' => Some(l as u8 - b'A' + 12),
        _ => None,
    }
}

/// Maps an RFC 4733 event code 0-15 back to its character (`A`-`D` upper
/// case).
pub fn event_to_char(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// The 4-byte RFC 4733 telephone-event payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfPayload {
    /// Event code (0-15 for DTMF).
    pub event: u8,
    /// End-of-event bit.
    pub end: bool,
    /// Volume in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration in RTP timestamp units since the event (segment) start.
    pub duration: u16,
}

impl DtmfPayload {
    /// Parses a payload; extra trailing bytes (e.g. redundancy) are ignored.
    pub fn parse(data: &[u8]) -> Result<Self, DtmfError> {
        if data.len() < 4 {
            return Err(DtmfError::TooShort(data.len()));
        }
        Ok(Self {
            event: data[0],
            end: data[1] & 0x80 != 0,
            volume: data[1] & 0x3F,
            duration: u16::from_be_bytes([data[2], data[3]]),
        })
    }

    /// Serialises the payload (reserved bit zero, volume masked to 6 bits).
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3F);
        [self.event, flags, d[0], d[1]]
    }
}

/// One packet produced by [`DtmfSender::tick`].
///
/// RTP timestamp: all packets of one event carry the event's start
/// timestamp. The caller owns the RTP timestamp `ts_now` of the current
/// tick (the one it would have used for audio) and must send this packet
/// with `ts_now.wrapping_sub(timestamp_offset)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfPacketOut {
    /// The 4-byte telephone-event payload.
    pub payload: [u8; 4],
    /// RTP marker bit (set on the first packet of an event).
    pub marker: bool,
    /// Event code carried in the payload.
    pub event: u8,
    /// Whether this is the end packet.
    pub end: bool,
    /// How many times to send this packet, back to back on this tick, each
    /// with its own sequence number: [`END_PACKETS`] for the end packet, else 1.
    pub copies: u32,
    /// Samples between the event start and the current tick:
    /// RTP timestamp = current tick's timestamp - `timestamp_offset`.
    pub timestamp_offset: u32,
    /// Media tick counter (number of earlier `tick` calls) at event start.
    pub event_start_tick: u64,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Tone {
        event: u8,
        ticks: u32,
        gap_ticks: u32,
    },
    Pause {
        ticks: u32,
    },
}

#[derive(Clone, Copy, Debug)]
enum Active {
    Tone {
        event: u8,
        ticks: u32,
        gap_ticks: u32,
        /// Tick (global counter) at which the current segment started.
        segment_start: u64,
        /// Packets sent in the current segment.
        sent: u32,
        /// Ticks elapsed over the whole tone.
        elapsed: u32,
    },
    Wait {
        ticks: u32,
    },
}

/// Generates RFC 4733 telephone-event packets, one per 20 ms tick.
#[derive(Debug)]
pub struct DtmfSender {
    clock_rate: u32,
    samples_per_tick: u32,
    volume: u8,
    queue: VecDeque<Item>,
    active: Option<Active>,
    tick: u64,
}

fn ms_to_ticks(ms: u32) -> u32 {
    ms.div_ceil(TICK_MS)
}

impl DtmfSender {
    /// Creates a sender for a telephone-event clock rate (normally 8000 or
    /// 48000, matching the audio codec; 0 is treated as 8000).
    pub fn new(clock_rate: u32) -> Self {
        let clock_rate = if clock_rate == 0 { 8000 } else { clock_rate };
        Self {
            clock_rate,
            samples_per_tick: (clock_rate / (1000 / TICK_MS)).max(1),
            volume: DEFAULT_VOLUME,
            queue: VecDeque::new(),
            active: None,
            tick: 0,
        }
    }

    /// The telephone-event clock rate.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Queues `tones` (`0-9`, `A-D`, `*`, `#`, case-insensitive; `,` = 2 s
    /// pause), each lasting `duration_ms` (clamped to 40..=6000) followed by
    /// `inter_tone_gap_ms` of silence (at least 30). All characters are
    /// validated first; on error nothing changes. A successful call replaces
    /// anything still queued; a tone already in progress is completed.
    pub fn queue(
        &mut self,
        tones: &str,
        duration_ms: u32,
        inter_tone_gap_ms: u32,
    ) -> Result<(), DtmfError> {
        let ticks = ms_to_ticks(duration_ms.clamp(40, 6000));
        let gap_ticks = ms_to_ticks(inter_tone_gap_ms.max(30));
        let mut items = VecDeque::new();
        for c in tones.chars() {
            if c == ',' {
                items.push_back(Item::Pause {
                    ticks: ms_to_ticks(PAUSE_MS),
                });
            } else {
                let event = char_to_event(c).ok_or(DtmfError::InvalidTone(c))?;
                items.push_back(Item::Tone {
                    event,
                    ticks,
                    gap_ticks,
                });
            }
        }
        self.queue = items;
        if let Some(Active::Wait { .. }) = self.active {
            self.active = None;
        }
        Ok(())
    }

    /// Queues one more tone behind whatever is queued (a relayed digit must
    /// not cancel the one before it, as [`queue`](Self::queue) would).
    pub fn append(
        &mut self,
        tone: char,
        duration_ms: u32,
        inter_tone_gap_ms: u32,
    ) -> Result<(), DtmfError> {
        let event = char_to_event(tone).ok_or(DtmfError::InvalidTone(tone))?;
        self.queue.push_back(Item::Tone {
            event,
            ticks: ms_to_ticks(duration_ms.clamp(40, 6000)),
            gap_ticks: ms_to_ticks(inter_tone_gap_ms.max(30)),
        });
        Ok(())
    }

    /// Drops everything queued; a tone in progress still gets its end
    /// packets.
    pub fn cancel(&mut self) {
        self.queue.clear();
        match &mut self.active {
            Some(Active::Wait { .. }) => self.active = None,
            Some(Active::Tone {
                ticks,
                elapsed,
                gap_ticks,
                ..
            }) => {
                *ticks = (*elapsed).max(1);
                *gap_ticks = 0;
            }
            None => {}
        }
    }

    /// Whether anything (tone, gap or pause) is pending.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// Whether the next tick's media interval belongs to a telephone-event:
    /// the caller sends no audio for it (check before `tick`). False in the
    /// gap after an event: audio must cover the time after it, or the
    /// receiver conceals a hole (libwebrtc's NetEq stretches the last tone
    /// into it, heard as a second digit).
    pub fn is_sending_event(&self) -> bool {
        matches!(self.active, Some(Active::Tone { .. }))
            || (self.active.is_none() && matches!(self.queue.front(), Some(Item::Tone { .. })))
    }

    /// Advances one 20 ms media tick; returns the packet to send on this tick,
    /// if any.
    pub fn tick(&mut self) -> Option<DtmfPacketOut> {
        let now = self.tick;
        self.tick += 1;
        if self.active.is_none() {
            self.active = self.queue.pop_front().map(|item| match item {
                Item::Tone {
                    event,
                    ticks,
                    gap_ticks,
                } => Active::Tone {
                    event,
                    ticks,
                    gap_ticks,
                    segment_start: now,
                    sent: 0,
                    elapsed: 0,
                },
                Item::Pause { ticks } => Active::Wait { ticks },
            });
        }
        let spt = self.samples_per_tick;
        let volume = self.volume;
        match self.active.as_mut()? {
            Active::Wait { ticks } => {
                *ticks = ticks.saturating_sub(1);
                if *ticks == 0 {
                    self.active = None;
                }
                None
            }
            Active::Tone {
                event,
                ticks,
                gap_ticks,
                segment_start,
                sent,
                elapsed,
            } => {
                let event = *event;
                // Start a new segment if the duration field would overflow
                // (RFC 4733 2.5.1.3; only reachable at high clock rates).
                if u64::from(*sent + 1) * u64::from(spt) > u64::from(u16::MAX) {
                    *segment_start = now;
                    *sent = 0;
                }
                let marker = *elapsed == 0;
                *sent += 1;
                *elapsed += 1;
                let duration = (*sent * spt).min(u32::from(u16::MAX)) as u16;
                let end = *elapsed >= *ticks;
                let out = DtmfPacketOut {
                    payload: DtmfPayload {
                        event,
                        end,
                        volume,
                        duration,
                    }
                    .to_bytes(),
                    marker,
                    event,
                    end,
                    copies: if end { END_PACKETS } else { 1 },
                    timestamp_offset: ((now - *segment_start) as u32).wrapping_mul(spt),
                    event_start_tick: *segment_start,
                };
                if end {
                    let gap = *gap_ticks;
                    self.active = (gap > 0).then_some(Active::Wait { ticks: gap });
                }
                Some(out)
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct LastEvent {
    ts: u32,
    event: u8,
    ended: bool,
    duration: u16,
}

/// Decodes received telephone-event packets into digits, reporting each
/// event once.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    last: Option<LastEvent>,
}

/// Slack (in timestamp units) for recognising a continuation segment of a
/// long event whose previous segment's last packets were lost.
const SEGMENT_SLACK: u32 = 4800;

impl DtmfReceiver {
    /// Creates a receiver.
    pub fn new() -> Self {
        Self { last: None }
    }

    /// Forgets the last event (e.g. on SSRC change).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Handles one telephone-event packet (RTP timestamp + payload) and
    /// returns the digit if this packet is the first one seen of a new event.
    /// Retransmissions, updates, end packets and stale (older timestamp)
    /// packets return `None`, as do malformed payloads and non-DTMF events.
    pub fn on_packet(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Option<char> {
        let p = DtmfPayload::parse(payload).ok()?;
        if let Some(last) = &mut self.last {
            let delta = rtp_timestamp.wrapping_sub(last.ts) as i32;
            if delta == 0 {
                last.ended |= p.end;
                last.duration = last.duration.max(p.duration);
                return None;
            }
            if delta < 0 {
                return None; // stale packet of an older event
            }
            // Continuation segment of a long, not yet ended event.
            let continuation = p.event == last.event
                && !last.ended
                && (delta as u32) <= u32::from(last.duration) + SEGMENT_SLACK;
            let report = !continuation;
            *last = LastEvent {
                ts: rtp_timestamp,
                event: p.event,
                ended: p.end,
                duration: p.duration,
            };
            return if report { event_to_char(p.event) } else { None };
        }
        self.last = Some(LastEvent {
            ts: rtp_timestamp,
            event: p.event,
            ended: p.end,
            duration: p.duration,
        });
        event_to_char(p.event)
    }
}

#[cfg(test)]
mod tests;
