//! The peer's video hooks: which receiver and sender the negotiation calls
//! for, the video direction in our descriptions, recording and sending. The pipeline itself is
//! [`crate::video`]; with no `video` in the configuration none of this runs.

use super::{Peer, PeerEvent};
use crate::sdp::{Direction, RemoteSdp};
use crate::video::clip::Clip;
use crate::video::receiver::{VideoEvent, VideoReceiver};
use crate::video::sdp::RemoteVideo;
use crate::video::sender::{PlayDone, VideoSender};
use std::sync::Arc;
use std::time::Instant;

impl Peer {
    /// The video direction in a local description we produce: what the
    /// configuration wants, limited by the offer when answering.
    pub(super) fn video_direction(&self, sdp: String, offer: Option<&RemoteSdp>) -> String {
        let Some(v) = &self.cfg.video else { return sdp };
        let dir: Direction = match offer.map(|o| o.video.as_ref()) {
            None => v.direction,
            Some(None) => return sdp,
            Some(Some(rv)) => crate::video::negotiate::answer_direction(v, rv.direction),
        };
        crate::video::negotiate::set_direction(&sdp, dir)
    }

    /// Video negotiated (or renegotiated): keep, replace or drop the
    /// receiver and the sender. `video` is the remote description's video
    /// section (WebRTC: bundled; plain: on its own port), `None` when
    /// video is not (or no longer) negotiated.
    pub(super) fn apply_video(&mut self, video: Option<&RemoteVideo>) {
        let (recv, send) = match (&self.cfg.video, video) {
            (Some(cfg), Some(v)) => (
                cfg.direction.has_recv() && v.direction.has_send(),
                cfg.direction.has_send() && v.direction.has_recv(),
            ),
            _ => (false, false),
        };
        let payloads = video.map(|v| v.payloads.clone());
        match payloads.clone().filter(|_| recv) {
            Some(p)
                if self
                    .video
                    .as_ref()
                    .is_some_and(|v| v.payloads() == p.as_slice()) => {}
            Some(p) => self.video = Some(VideoReceiver::new(p, self.media.ssrc())),
            None => self.video = None,
        }
        match payloads.filter(|_| send) {
            Some(p)
                if self
                    .video_send
                    .as_ref()
                    .is_some_and(|v| v.payloads() == p.as_slice()) => {}
            Some(p) => {
                let (ssrc, rtx) = crate::video::negotiate::send_ssrcs(self.media.ssrc());
                self.video_send = Some(VideoSender::new(p, ssrc, rtx));
            }
            None => self.video_send = None,
        }
        if let (Some(s), Some(v)) = (self.video_send.as_mut(), video) {
            s.set_max_bitrate(v.max_bitrate);
        }
    }

    /// Video housekeeping: frames due out and lost frames (on ticks),
    /// feedback out, events up.
    pub(super) fn video_step(&mut self, now: Instant, tick: bool) {
        let on_tick = tick && self.connected && self.video_send.is_some();
        let ntp = if on_tick { self.ntp(now) } else { 0 };
        if let Some(s) = self.video_send.as_mut() {
            // Only once connected: frames sent before would be lost, and a
            // clip started early would begin mid-way.
            let report = if on_tick {
                s.tick(now);
                s.poll_report(now, ntp)
            } else {
                None
            };
            let pkts = s.take_packets();
            for message in s.take_warnings() {
                self.events.push_back(PeerEvent::CodedWarning {
                    code: "video-bitrate",
                    message,
                });
            }
            if let Some(t) =
                super::video_wire(&mut self.transport, &mut self.plain, &mut self.plain_video)
            {
                for p in pkts {
                    t.send_rtp(now, p);
                }
                if let Some(r) = report {
                    t.send_rtcp(now, r);
                }
            }
        }
        let Some(v) = self.video.as_mut() else { return };
        if tick {
            v.tick(now);
        }
        for e in v.take_events() {
            self.events.push_back(match e {
                VideoEvent::RecordingFailed(message) => PeerEvent::CodedWarning {
                    code: "recording-failed",
                    message,
                },
                VideoEvent::RecordingOverrun => PeerEvent::CodedWarning {
                    code: "recording-overrun",
                    message: "the video recording falls behind; frames are dropped".into(),
                },
            });
        }
        if let (Some(pkts), Some(t)) = (
            v.poll_rtcp(),
            super::video_wire(&mut self.transport, &mut self.plain, &mut self.plain_video),
        ) {
            t.send_rtcp(now, pkts);
        }
    }

    /// The video receive pipeline, when video was negotiated.
    pub fn video(&self) -> Option<&VideoReceiver> {
        self.video.as_ref()
    }

    /// Start recording received video to `path` (IVF for VP8, Annex B for
    /// H.264); `on_open` settles once the file is open, or with the reason
    /// it cannot be (no video negotiated, the path cannot be opened).
    pub fn start_video_recording(
        &mut self,
        now: Instant,
        path: String,
        on_open: crate::media::FinishCallback,
    ) {
        let Some(v) = self.video.as_mut() else {
            on_open(Err(
                "no video negotiated: enable `video` in the configuration, and the far end must send video".into(),
            ));
            return;
        };
        v.start_recording(now, crate::recording::start_bytes(path, on_open));
        self.video_step(now, false);
    }

    /// Send `clip` as our video (replacing a clip that plays); `done`
    /// settles when it ends, is stopped, or cannot play (no video
    /// negotiated for sending, or another codec than the clip's).
    /// `generation` orders plays and stops requested while clips load.
    pub fn play_video(
        &mut self,
        now: Instant,
        clip: Arc<Clip>,
        looped: bool,
        done: PlayDone,
        generation: u64,
    ) {
        let Some(s) = self.video_send.as_mut() else {
            done.settle(Err("no video negotiated for sending: set `video.direction` to 'sendrecv' or 'sendonly', and the far end must accept video".into()));
            return;
        };
        if s.play(now, clip, looped, done, generation).is_ok() {
            // The key frame now if connected; else on the first tick after.
            self.video_step(now, true);
        }
    }

    /// Stop sending video, and any play requested before `generation`;
    /// the pending `playVideo` settles as stopped.
    pub fn stop_video(&mut self, generation: u64) {
        if let Some(s) = self.video_send.as_mut() {
            s.stop(generation);
        }
    }

    /// Finish the video recording; `done` settles once it is on disk.
    pub fn stop_video_recording(&mut self, done: crate::media::FinishCallback) {
        match self.video.as_mut() {
            Some(v) => v.stop_recording(Some(done)),
            None => done(Ok(())),
        }
    }
}
