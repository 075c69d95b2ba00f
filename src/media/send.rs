//! The send half of the pipeline: sources (players, a bridge, PCM written by JS)
//! to encoded RTP, with RFC 4733 events pre-empting audio.

use super::{convert, Media, MediaEvent, CANONICAL_RATE};
use bytes::Bytes;
use rtc::rtp::header::Header;
use rtc::rtp::packet::Packet;

impl Media {
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

    pub(super) fn send_tick(
        &mut self,
        connected: bool,
        out: &mut Vec<MediaEvent>,
    ) -> Option<Packet> {
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
}
