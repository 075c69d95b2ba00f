//! The receive half of the pipeline: RTP to the DTMF receiver or the jitter
//! buffer, decoding (PLC for gaps), the detectors and the PCM sinks.

use super::{convert, Media, MediaEvent};
use crate::audio::codec::{CodecKind, Decoder};
use crate::audio::jitter::{JitterBuffer, JitterOut};
use crate::listen::{DigitSource, ListenEvent};
use rtc::rtp::packet::Packet;

impl Media {
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

    pub(super) fn receive_tick(&mut self, out: &mut Vec<MediaEvent>) {
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
        // Squares summed as integers (exact, and they vectorise; an f64 sum
        // is one long dependency chain), normalised once.
        let squares: u64 = self
            .pcm
            .iter()
            .map(|&s| u64::from((i32::from(s) * i32::from(s)) as u32))
            .sum();
        let energy = squares as f64 / (32768.0 * 32768.0);
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
