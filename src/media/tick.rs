//! The 20 ms step: RTP timeout, receive, send, then the hand-off of this
//! tick's audio to the recorder and the bridge.

use super::{Media, MediaEvent, SinkStatus};
use crate::sdp::Direction;
use rtc::rtp::packet::Packet;

impl Media {
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
}
