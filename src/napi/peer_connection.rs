//! The `NativePeerConnection` class: one method per JS member, each a few
//! lines of translation to a [`Peer`] command run on its I/O shard. It stays
//! in one file (about 600 lines) because napi generates the class's `.d.ts`
//! from one `#[napi] impl`.

use super::audio::LoadWav;
use super::config::{desc_from_js, desc_to_js, NativeConfig, NativeDescription};
use super::events::{
    self, event_channel, sync_event_loop_ref, NativeEvent, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSignalingState, REFED,
};
use super::{check_rate, settle_with, to_napi, Deferred};
use crate::config::{IceServer, PeerConfigInput};
use crate::error::Error as CoreError;
use crate::peer::{Peer, PeerEvent};
use crate::sdp::Direction;
use crate::shard::PeerHandle;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use std::time::Duration;

/// The native peer connection. Use the `RTCPeerConnection` wrapper from `js/`.
#[napi]
pub struct NativePeerConnection {
    pub(super) handle: PeerHandle,
    /// Bumped by `stopPlayback`: a WAV still loading when playback was
    /// stopped must not start afterwards.
    stops: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Counted in [`REFED`]; false once unref'd or closed.
    refed: std::cell::Cell<bool>,
}

impl NativePeerConnection {
    /// Run `f` on the shard and settle a promise with its result.
    fn run<'e, T, F>(&self, env: &'e Env, f: F) -> Result<Object<'e>>
    where
        T: ToNapiValue + Send + 'static,
        F: FnOnce(&mut Peer, std::time::Instant) -> std::result::Result<T, CoreError>
            + Send
            + 'static,
    {
        let (deferred, promise): (Deferred<T>, Object<'e>) = env.create_deferred()?;
        self.handle.with(Box::new(move |peer, now| {
            let r = match peer {
                Some(p) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(p, now)))
                    .unwrap_or_else(|_| {
                        Err(CoreError::Rtc(
                            "internal error (panic caught); see stderr".into(),
                        ))
                    }),
                None => Err(CoreError::Closed),
            };
            Some(Box::new(move || match r {
                Ok(v) => deferred.resolve(Box::new(move |_| Ok(v))),
                Err(e) => deferred.reject(to_napi(e)),
            }))
        }));
        Ok(promise)
    }

    pub(super) fn post<F>(&self, f: F)
    where
        F: FnOnce(&mut Peer, std::time::Instant) + Send + 'static,
    {
        self.handle.with(Box::new(move |peer, now| {
            if let Some(p) = peer {
                f(p, now)
            }
            None
        }));
    }
}

#[napi]
impl NativePeerConnection {
    /// Create a connection. `on_event` receives [`NativeEvent`]s of every
    /// connection (route them by `pc`); pass the same function each time.
    #[napi(constructor)]
    pub fn new(
        env: &Env,
        config: Option<NativeConfig>,
        on_event: Function<NativeEvent, ()>,
    ) -> Result<Self> {
        crate::logger::init_from_env();
        let input = match config {
            None => PeerConfigInput::default(),
            Some(c) => PeerConfigInput {
                ice_servers: c
                    .ice_servers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| IceServer {
                        urls: s.urls,
                        username: s.username,
                        credential: s.credential,
                    })
                    .collect(),
                ice_transport_policy: c.ice_transport_policy,
                port_range: match (c.port_min, c.port_max) {
                    (None, None) => None,
                    (Some(a), Some(b)) => Some((a, b)),
                    _ => {
                        return Err(to_napi(CoreError::InvalidArgument(
                            "portMin and portMax go together".into(),
                        )))
                    }
                },
                bind_addresses: c.bind_addresses.unwrap_or_default(),
                codecs: c.codecs.unwrap_or_default(),
                ice_gathering_timeout_ms: c.ice_gathering_timeout,
                rtp_timeout_ms: c.rtp_timeout,
                opus_complexity: c.opus_complexity,
                measure_one_way_delay: c.measure_one_way_delay,
                media_profile: c.media_profile,
                allow_unencrypted_media: c.allow_unencrypted_media,
                video: c.video.map(|v| (v.codecs.unwrap_or_default(), v.direction)),
            },
        };
        let cfg = input.validate().map_err(to_napi)?;
        let tsfn = event_channel(on_event)?;
        let handle = PeerHandle::create(cfg, move |id| {
            Box::new(move |ev: PeerEvent| {
                tsfn.call(
                    events::event_to_js(id as f64, ev),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            })
        })
        .map_err(to_napi)?;
        REFED.with(|r| r.set(r.get() + 1));
        sync_event_loop_ref(env);
        Ok(NativePeerConnection {
            handle,
            stops: Default::default(),
            refed: std::cell::Cell::new(true),
        })
    }

    /// Like `net.Socket#ref`: an open connection keeps Node running (the
    /// default). No-op when closed.
    #[napi(js_name = "ref")]
    pub fn refer(&self, env: &Env) {
        if !self.refed.get() && self.handle.snapshot().signaling_state != "closed" {
            self.refed.set(true);
            REFED.with(|r| r.set(r.get() + 1));
            sync_event_loop_ref(env);
        }
    }

    /// Like `net.Socket#unref`: this connection alone no longer keeps Node
    /// running; events still arrive while something else does.
    #[napi]
    pub fn unref(&self, env: &Env) {
        if self.refed.replace(false) {
            REFED.with(|r| r.set(r.get().saturating_sub(1)));
            sync_event_loop_ref(env);
        }
    }

    /// This connection's id: the `pc` field of its events.
    #[napi(getter)]
    pub fn id(&self) -> f64 {
        self.handle.id() as f64
    }

    /// W3C `createOffer`.
    #[napi(ts_return_type = "Promise<NativeDescription>")]
    pub fn create_offer<'e>(&self, env: &'e Env, ice_restart: Option<bool>) -> Result<Object<'e>> {
        let restart = ice_restart.unwrap_or(false);
        self.run(env, move |p, now| {
            p.create_offer(now, restart).map(desc_to_js)
        })
    }

    /// W3C `createAnswer`.
    #[napi(ts_return_type = "Promise<NativeDescription>")]
    pub fn create_answer<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        self.run(env, move |p, now| p.create_answer(now).map(desc_to_js))
    }

    /// W3C `setLocalDescription` (no argument = implicit offer/answer).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_local_description<'e>(
        &self,
        env: &'e Env,
        desc: Option<NativeDescription>,
    ) -> Result<Object<'e>> {
        let desc = desc.map(desc_from_js).transpose().map_err(to_napi)?;
        self.run(env, move |p, now| p.set_local_description(now, desc))
    }

    /// W3C `setRemoteDescription`.
    #[napi(
        ts_args_type = "desc: NativeDescription",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_remote_description<'e>(&self, env: &'e Env, desc: Object<'_>) -> Result<Object<'e>> {
        let sdp_type: String = desc.get_named_property("type")?;
        let sdp: napi::JsString<'_> = desc.get_named_property("sdp")?;
        // Refuse an oversized description by its length, before copying it
        // on this thread (as validate_offer does).
        if let Err(e) = crate::sdp::limits::check_len(sdp.utf16_len()?, &sdp_type) {
            let (deferred, promise): (Deferred<()>, Object<'e>) = env.create_deferred()?;
            deferred.reject(to_napi(e.into()));
            return Ok(promise);
        }
        let desc = desc_from_js(NativeDescription {
            sdp_type,
            sdp: sdp.into_utf8()?.into_owned()?,
        })
        .map_err(to_napi)?;
        self.run(env, move |p, now| p.set_remote_description(now, desc))
    }

    /// W3C `addIceCandidate` (candidate line; empty = end of candidates).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_ice_candidate<'e>(&self, env: &'e Env, candidate: String) -> Result<Object<'e>> {
        self.run(env, move |p, _| p.add_ice_candidate(&candidate))
    }

    /// W3C `restartIce`.
    #[napi]
    pub fn restart_ice(&self) {
        self.post(|p, _| {
            let _ = p.restart_ice();
        });
    }

    /// W3C `getStats`, as a JSON array of stats objects.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_stats<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let t0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        self.run(env, move |p, now| {
            Ok(serde_json::Value::Array(p.stats(now, t0)).to_string())
        })
    }

    /// SIP extension: emit `gatheringwaitdone` with `id` once gathering is
    /// complete or `timeout_ms` passed.
    #[napi]
    pub fn wait_gathering(&self, id: f64, timeout_ms: u32) {
        self.post(move |p, now| {
            p.wait_gathering(now, id as u64, Duration::from_millis(timeout_ms as u64))
        });
    }

    /// Wanted direction for the next offer/answer: sendrecv, sendonly, recvonly, inactive.
    #[napi]
    pub fn set_direction(&self, direction: String) -> Result<()> {
        let d = Direction::parse(&direction).ok_or_else(|| {
            to_napi(CoreError::InvalidArgument(format!(
                "direction must be sendrecv, sendonly, recvonly or inactive, got {direction:?}"
            )))
        })?;
        self.post(move |p, _| {
            let _ = p.set_direction(d);
        });
        Ok(())
    }

    /// Queue mono PCM for sending.
    #[napi]
    pub fn write_pcm(&self, samples: Int16Array, sample_rate: u32) -> Result<()> {
        check_rate(sample_rate)?;
        let v = samples.to_vec();
        self.post(move |p, _| {
            let _ = p.media_mut().write_pcm(&v, sample_rate);
        });
        Ok(())
    }

    /// Play mono PCM; `playended` with `id` follows.
    #[napi]
    pub fn play_pcm(
        &self,
        id: f64,
        samples: Int16Array,
        sample_rate: u32,
        looped: Option<bool>,
    ) -> Result<()> {
        check_rate(sample_rate)?;
        let v = samples.to_vec();
        let looped = looped.unwrap_or(false);
        self.post(move |p, _| {
            let _ = p.media_mut().play(id as u64, &v, sample_rate, looped);
        });
        Ok(())
    }

    /// Play a WAV file. It is read, decoded and resampled on libuv's thread
    /// pool (never on the JS thread or a shard); the promise resolves with
    /// its duration in ms once queued, or rejects with `ERR_WAV` naming it.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn play_wav(&self, id: f64, path: String, looped: Option<bool>) -> AsyncTask<LoadWav> {
        AsyncTask::new(LoadWav {
            handle: self.handle.clone(),
            stops: self.stops.clone(),
            stops_at_start: self.stops.load(std::sync::atomic::Ordering::Acquire),
            id: id as u64,
            path,
            looped: looped.unwrap_or(false),
        })
    }

    /// Stop all playback; each pending play ends with `stopped: true`.
    #[napi]
    pub fn stop_playback(&self) {
        self.stops.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.post(|p, _| {
            let mut ev = Vec::new();
            p.media_mut().stop_playback(&mut ev);
            p.push_media_events(ev);
        });
    }

    /// Start `audio` events with decoded PCM at `sample_rate`, batched by `batch_ms`.
    #[napi]
    pub fn subscribe_audio(&self, sample_rate: u32, batch_ms: u32) -> Result<()> {
        check_rate(sample_rate)?;
        self.post(move |p, _| {
            let _ = p.media_mut().subscribe_audio(sample_rate, batch_ms);
        });
        Ok(())
    }

    /// Stop `audio` events at `sample_rate`, or at every rate when omitted.
    #[napi]
    pub fn unsubscribe_audio(&self, sample_rate: Option<u32>) {
        self.post(move |p, _| p.media_mut().unsubscribe_audio(sample_rate));
    }

    /// Record the call to a WAV file (or Ogg/Opus for `format` "opus"). The
    /// file is opened and written by a writer thread; the promise settles once
    /// it is open. `format` is "s16" (default), "pcmu", "pcma" or "opus"; `channels` is "rx" (default: what the
    /// far end sends), "tx", "stereo" (far end left, us right) or "mixed".
    #[napi(ts_return_type = "Promise<void>")]
    pub fn start_recording<'e>(
        &self,
        env: &'e Env,
        path: String,
        sample_rate: u32,
        format: Option<String>,
        channels: Option<String>,
    ) -> Result<Object<'e>> {
        check_rate(sample_rate)?;
        let channels = match channels.as_deref() {
            None => crate::graph::record::RecordChannels::Rx,
            Some(c) => crate::graph::record::RecordChannels::parse(c).ok_or_else(|| {
                to_napi(CoreError::InvalidArgument(format!(
                    "channels must be 'rx', 'tx', 'stereo' or 'mixed', got {c:?}"
                )))
            })?,
        };
        let ogg = format.as_deref() == Some("opus");
        let format = match format.as_deref() {
            None | Some("opus") => crate::wav::WavFormat::S16,
            Some(f) => crate::wav::WavFormat::parse(f).ok_or_else(|| {
                to_napi(CoreError::InvalidArgument(format!(
                    "format must be 's16', 'pcmu', 'pcma' or 'opus', got {f:?}"
                )))
            })?,
        };
        let (deferred, promise): (Deferred<()>, Object<'e>) = env.create_deferred()?;
        let sink = if ogg {
            crate::recording::start_ogg_opus(
                path,
                sample_rate,
                channels.count(),
                settle_with(deferred),
            )
        } else {
            crate::recording::start_with_channels(
                path,
                sample_rate,
                format,
                channels.count(),
                settle_with(deferred),
            )
        };
        self.post(move |p, _| {
            if let Err(e) =
                p.media_mut()
                    .start_recording_channels(sample_rate, channels, Box::new(sink))
            {
                // Unreachable after check_rate; never silent all the same.
                log::warn!("start_recording: {e}");
            }
        });
        Ok(promise)
    }

    /// Record received video to `path` (IVF for VP8, Annex B for H.264),
    /// from the next key frame (asked for at once). Settles once the file is
    /// open; rejects when no video was negotiated.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn start_video_recording<'e>(&self, env: &'e Env, path: String) -> Result<Object<'e>> {
        let (deferred, promise): (Deferred<()>, Object<'e>) = env.create_deferred()?;
        let done = settle_with(deferred);
        self.handle.with(Box::new(move |peer, now| {
            match peer {
                Some(p) => p.start_video_recording(now, path, done),
                None => done(Err("the connection is closed".into())),
            }
            None
        }));
        Ok(promise)
    }

    /// Finish the video file; resolves once everything queued is on disk.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop_video_recording<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let (deferred, promise): (Deferred<()>, Object<'e>) = env.create_deferred()?;
        let done = settle_with(deferred);
        self.handle.with(Box::new(move |peer, _| {
            match peer {
                Some(p) => p.stop_video_recording(done),
                None => done(Ok(())),
            }
            None
        }));
        Ok(promise)
    }

    /// Finish the WAV file; resolves with its duration in ms once
    /// everything queued is on disk (0 when nothing was recording).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn stop_recording<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let (deferred, promise): (Deferred<f64>, Object<'e>) = env.create_deferred()?;
        self.handle.with(Box::new(move |peer, _| {
            let duration = peer
                .as_ref()
                .map_or(0.0, |p| p.media().recording_duration_ms());
            let done: crate::media::FinishCallback = Box::new(move |r| match r {
                Ok(()) => deferred.resolve(Box::new(move |_| Ok(duration))),
                Err(msg) => deferred.reject(to_napi(CoreError::Wav(msg))),
            });
            match peer {
                Some(p) => p.media_mut().stop_recording(Some(done)),
                None => done(Ok(())),
            }
            None
        }));
        Ok(promise)
    }

    /// Which detectors run on the received audio: in-band DTMF (on by
    /// default), `speechstart`/`speechend` events, `beep` events. `None` leaves one as it is.
    #[napi]
    pub fn set_listening(
        &self,
        inband_dtmf: Option<bool>,
        speech: Option<bool>,
        beep: Option<bool>,
    ) {
        self.post(move |p, _| {
            let l = p.media_mut().listener_mut();
            if let Some(on) = inband_dtmf {
                l.set_inband_dtmf(on);
            }
            if let Some(on) = speech {
                l.set_speech_events(on);
            }
            if let Some(on) = beep {
                l.set_beep_events(on);
            }
        });
    }

    /// Report `tonedetected` with `id` once `hz` (±2.5 % or ±12 Hz) was heard for `min_duration_ms`.
    #[napi]
    pub fn watch_tone(&self, id: f64, hz: f64, min_duration_ms: u32) -> Result<()> {
        if !(50.0..=3900.0).contains(&hz) {
            return Err(to_napi(CoreError::InvalidArgument(format!(
                "tone frequency must be 50-3900 Hz, got {hz}"
            ))));
        }
        self.post(move |p, _| {
            p.media_mut()
                .listener_mut()
                .watch_tone(id as u64, hz as f32, min_duration_ms)
        });
        Ok(())
    }

    /// Start answering-machine detection `id`; an `amd` event with `id` reports the verdict.
    #[napi]
    pub fn detect_answering_machine(&self, id: f64, timeout_ms: u32) {
        self.post(move |p, _| {
            p.media_mut()
                .listener_mut()
                .detect_answering_machine(id as u64, u64::from(timeout_ms))
        });
    }

    /// Drop the tone watch or detection `id`.
    #[napi]
    pub fn cancel_listen(&self, id: f64) {
        self.post(move |p, _| p.media_mut().listener_mut().cancel(id as u64));
    }

    /// Bridge this call's audio with `other`'s inside the native media
    /// pipelines (see `crate::graph`): each hears the other, transcoded when
    /// codecs differ, and RFC 4733 digits are relayed. Replaces any bridge
    /// either call was in. Returns the bridge id.
    #[napi]
    pub fn bridge(&self, other: &NativePeerConnection) -> Result<f64> {
        if other.handle.id() == self.handle.id() {
            return Err(to_napi(CoreError::InvalidArgument(
                "a call cannot be bridged to itself".into(),
            )));
        }
        let (a, b) = crate::graph::link::pair();
        let id = a.id();
        // Each end goes to its own call's shard; an end whose call is
        // already closed is dropped there, and the other end then detaches.
        self.post(move |p, _| p.media_mut().attach_port(crate::graph::Port::Link(a)));
        other.post(move |p, _| p.media_mut().attach_port(crate::graph::Port::Link(b)));
        Ok(id as f64)
    }

    /// Leave the bridge `id` (any bridge when omitted); the other call's end
    /// detaches on its next 20 ms tick.
    #[napi]
    pub fn unbridge(&self, id: Option<f64>) {
        let id = id.map(|i| i as u64);
        self.post(move |p, _| {
            p.media_mut().detach_port(id);
        });
    }

    /// RFC 4733 DTMF. Resolves once queued; rejects if telephone-event was not negotiated.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn send_dtmf<'e>(
        &self,
        env: &'e Env,
        tones: String,
        duration_ms: u32,
        inter_tone_gap_ms: u32,
    ) -> Result<Object<'e>> {
        self.run(env, move |p, _| {
            p.media_mut()
                .send_dtmf(&tones, duration_ms, inter_tone_gap_ms)
        })
    }

    /// W3C `close`. Idempotent; frees sockets and lets Node exit.
    #[napi]
    pub fn close(&self, env: &Env) {
        self.unref(env);
        self.handle.close();
    }

    /// W3C `signalingState`.
    #[napi(getter)]
    pub fn signaling_state(&self) -> RTCSignalingState {
        events::signaling_state(self.handle.snapshot().signaling_state)
    }

    /// W3C `iceGatheringState`.
    #[napi(getter)]
    pub fn ice_gathering_state(&self) -> RTCIceGatheringState {
        events::ice_gathering_state(self.handle.snapshot().ice_gathering_state)
    }

    /// W3C `iceConnectionState`.
    #[napi(getter)]
    pub fn ice_connection_state(&self) -> RTCIceConnectionState {
        events::ice_connection_state(&self.handle.snapshot().ice_connection_state)
    }

    /// W3C `connectionState`.
    #[napi(getter)]
    pub fn connection_state(&self) -> RTCPeerConnectionState {
        events::connection_state(&self.handle.snapshot().connection_state)
    }

    /// W3C `localDescription` (with every candidate gathered so far).
    #[napi(getter)]
    pub fn local_description(&self) -> Option<NativeDescription> {
        self.handle.snapshot().local_description.map(desc_to_js)
    }

    /// True when RFC 4733 DTMF can be sent now (telephone-event negotiated, direction sends).
    #[napi(getter)]
    pub fn can_send_dtmf(&self) -> bool {
        self.handle.snapshot().can_send_dtmf
    }

    /// W3C `remoteDescription`.
    #[napi(getter)]
    pub fn remote_description(&self) -> Option<NativeDescription> {
        self.handle.snapshot().remote_description.map(desc_to_js)
    }
}
