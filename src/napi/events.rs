//! Native events and states as precise TypeScript types.
//!
//! States are `#[napi(string_enum)]`s, which `napi build` (with
//! `"constEnum": false` in package.json) writes to `index.d.ts` as unions of
//! their W3C strings. Events are one structured enum: napi writes it as a
//! union discriminated by `type`, each member with only its own fields, so
//! the facade narrows with `switch (ev.type)` and needs no `!` or casts.
//!
//! Events of every connection leave through one threadsafe function
//! ([`event_channel`]), whose hold on Node's event loop follows the
//! connections that are `ref()`ed ([`sync_event_loop_ref`]).

use crate::listen::ListenEvent;
use crate::media::MediaEvent;
use crate::peer::PeerEvent;
use napi::bindgen_prelude::{Env, Function, Int16Array, Result, Status};
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

/// W3C `RTCSignalingState`.
#[napi(string_enum = "kebab-case")]
#[derive(Debug, PartialEq)]
pub enum RTCSignalingState {
    Stable,
    HaveLocalOffer,
    HaveRemoteOffer,
    Closed,
}

/// W3C `RTCIceGatheringState`.
#[napi(string_enum = "kebab-case")]
#[derive(Debug, PartialEq)]
pub enum RTCIceGatheringState {
    New,
    Gathering,
    Complete,
}

/// W3C `RTCIceConnectionState`.
#[napi(string_enum = "kebab-case")]
#[derive(Debug, PartialEq)]
pub enum RTCIceConnectionState {
    New,
    Checking,
    Connected,
    Completed,
    Disconnected,
    Failed,
    Closed,
}

/// W3C `RTCPeerConnectionState`.
#[napi(string_enum = "kebab-case")]
#[derive(Debug, PartialEq)]
pub enum RTCPeerConnectionState {
    New,
    Connecting,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

/// The core's `signalingState` string.
pub fn signaling_state(s: &str) -> RTCSignalingState {
    match s {
        "have-local-offer" => RTCSignalingState::HaveLocalOffer,
        "have-remote-offer" => RTCSignalingState::HaveRemoteOffer,
        "closed" => RTCSignalingState::Closed,
        _ => RTCSignalingState::Stable,
    }
}

/// The core's `iceGatheringState` string.
pub fn ice_gathering_state(s: &str) -> RTCIceGatheringState {
    match s {
        "gathering" => RTCIceGatheringState::Gathering,
        "complete" => RTCIceGatheringState::Complete,
        _ => RTCIceGatheringState::New,
    }
}

/// rtc's `iceConnectionState` string (its W3C name; anything else, such
/// as rtc's `unspecified`, is `new`).
pub fn ice_connection_state(s: &str) -> RTCIceConnectionState {
    match s {
        "checking" => RTCIceConnectionState::Checking,
        "connected" => RTCIceConnectionState::Connected,
        "completed" => RTCIceConnectionState::Completed,
        "disconnected" => RTCIceConnectionState::Disconnected,
        "failed" => RTCIceConnectionState::Failed,
        "closed" => RTCIceConnectionState::Closed,
        _ => RTCIceConnectionState::New,
    }
}

/// rtc's `connectionState` string (as [`ice_connection_state`]).
pub fn connection_state(s: &str) -> RTCPeerConnectionState {
    match s {
        "connecting" => RTCPeerConnectionState::Connecting,
        "connected" => RTCPeerConnectionState::Connected,
        "disconnected" => RTCPeerConnectionState::Disconnected,
        "failed" => RTCPeerConnectionState::Failed,
        "closed" => RTCPeerConnectionState::Closed,
        _ => RTCPeerConnectionState::New,
    }
}

/// How a received DTMF digit arrived.
#[napi(string_enum = "lowercase")]
#[derive(Debug, PartialEq)]
pub enum DtmfMethod {
    /// RFC 4733 telephone-event packets.
    Rfc4733,
    /// Dual tones in the audio, found by the in-band detector.
    Inband,
}

/// What answering-machine detection decided.
#[napi(string_enum = "lowercase")]
#[derive(Debug, PartialEq)]
pub enum AmdVerdict {
    Human,
    Machine,
    Unknown,
}

/// An event from the native side; `pc` is the connection's `id`.
#[napi(discriminant = "type", discriminant_case = "lowercase")]
pub enum NativeEvent {
    /// `signalingstatechange`
    SignalingStateChange { pc: f64, state: RTCSignalingState },
    /// `icegatheringstatechange`
    IceGatheringStateChange {
        pc: f64,
        state: RTCIceGatheringState,
    },
    /// `iceconnectionstatechange`
    IceConnectionStateChange {
        pc: f64,
        state: RTCIceConnectionState,
    },
    /// `connectionstatechange`
    ConnectionStateChange {
        pc: f64,
        state: RTCPeerConnectionState,
    },
    /// `icecandidate`: a candidate line; absent = end of candidates.
    IceCandidate { pc: f64, candidate: Option<String> },
    /// A `waitForGatheringComplete` request (`id`) ended.
    GatheringWaitDone { pc: f64, id: f64 },
    /// A `play` request (`id`) ended; `stopped`: ended early by `stopPlayback`.
    PlayEnded { pc: f64, id: f64, stopped: bool },
    /// A digit received, by RFC 4733 or detected in the audio.
    Dtmf {
        pc: f64,
        digit: String,
        method: DtmfMethod,
    },
    /// The voice activity detector heard speech start.
    SpeechStart { pc: f64 },
    /// Speech ended; `ms`: the utterance's length.
    SpeechEnd { pc: f64, ms: f64 },
    /// A `watchTone` request (`id`) heard its tone at `hz`.
    ToneDetected { pc: f64, id: f64, hz: f64 },
    /// A voicemail-style beep at `hz`.
    Beep { pc: f64, hz: f64 },
    /// An answering-machine detection (`id`) decided, `ms` after its start.
    Amd {
        pc: f64,
        id: f64,
        verdict: AmdVerdict,
        ms: f64,
    },
    /// A DTMF tone started sending; `""`: the queue is done.
    ToneChange { pc: f64, tone: String },
    /// No RTP for `rtpTimeout` ms while receiving.
    RtpTimeout { pc: f64 },
    /// Something to know that is not an error; `code` is stable when given,
    /// e.g. `recording-failed`, `remote-closed`, `dtls-fingerprint-mismatch`.
    Warning {
        pc: f64,
        message: String,
        code: Option<String>,
    },
    /// Decoded mono PCM for `audio()` subscribers.
    Audio {
        pc: f64,
        samples: Int16Array,
        sample_rate: u32,
    },
}

/// The JS form of a core event of connection `pc`.
pub fn event_to_js(pc: f64, ev: PeerEvent) -> NativeEvent {
    match ev {
        PeerEvent::SignalingState(s) => NativeEvent::SignalingStateChange {
            pc,
            state: signaling_state(s),
        },
        PeerEvent::IceGatheringState(s) => NativeEvent::IceGatheringStateChange {
            pc,
            state: ice_gathering_state(s),
        },
        PeerEvent::IceConnectionState(s) => NativeEvent::IceConnectionStateChange {
            pc,
            state: ice_connection_state(&s),
        },
        PeerEvent::ConnectionState(s) => NativeEvent::ConnectionStateChange {
            pc,
            state: connection_state(&s),
        },
        PeerEvent::IceCandidate(candidate) => NativeEvent::IceCandidate { pc, candidate },
        PeerEvent::Warning(m) => {
            // "[code] text" (crate::sdp::limits::coded) carries a stable code.
            let coded = m
                .strip_prefix('[')
                .and_then(|r| r.split_once("] "))
                .filter(|(c, _)| !c.is_empty() && !c.contains(' '))
                .map(|(c, t)| (c.to_string(), t.to_string()));
            match coded {
                Some((code, message)) => NativeEvent::Warning {
                    pc,
                    message,
                    code: Some(code),
                },
                None => NativeEvent::Warning {
                    pc,
                    message: m,
                    code: None,
                },
            }
        }
        PeerEvent::CodedWarning { code, message } => NativeEvent::Warning {
            pc,
            message,
            code: Some(code.into()),
        },
        PeerEvent::GatheringWaitDone(id) => NativeEvent::GatheringWaitDone { pc, id: id as f64 },
        PeerEvent::Media(MediaEvent::Dtmf(c)) => NativeEvent::Dtmf {
            pc,
            digit: c.to_string(),
            method: DtmfMethod::Rfc4733,
        },
        PeerEvent::Media(MediaEvent::Listen(ev)) => listen_event_to_js(pc, ev),
        PeerEvent::Media(MediaEvent::RtpTimeout) => NativeEvent::RtpTimeout { pc },
        PeerEvent::Media(MediaEvent::Warning { code, message }) => NativeEvent::Warning {
            pc,
            message,
            code: Some(code.into()),
        },
        PeerEvent::Media(MediaEvent::ToneChange(t)) => NativeEvent::ToneChange {
            pc,
            tone: t.map(String::from).unwrap_or_default(),
        },
        PeerEvent::Media(MediaEvent::PlayEnded { id, stopped }) => NativeEvent::PlayEnded {
            pc,
            id: id as f64,
            stopped,
        },
        PeerEvent::Media(MediaEvent::Audio {
            samples,
            sample_rate,
        }) => NativeEvent::Audio {
            pc,
            samples: Int16Array::new(samples),
            sample_rate,
        },
    }
}

fn listen_event_to_js(pc: f64, ev: ListenEvent) -> NativeEvent {
    match ev {
        ListenEvent::Dtmf(c) => NativeEvent::Dtmf {
            pc,
            digit: c.to_string(),
            method: DtmfMethod::Inband,
        },
        ListenEvent::SpeechStart => NativeEvent::SpeechStart { pc },
        ListenEvent::SpeechEnd { duration_ms } => NativeEvent::SpeechEnd {
            pc,
            ms: duration_ms as f64,
        },
        ListenEvent::Tone { id, hz } => NativeEvent::ToneDetected {
            pc,
            id: id as f64,
            hz: f64::from(hz),
        },
        ListenEvent::Beep { hz } => NativeEvent::Beep {
            pc,
            hz: f64::from(hz),
        },
        ListenEvent::Amd {
            id,
            verdict,
            after_ms,
        } => NativeEvent::Amd {
            pc,
            id: id as f64,
            verdict: match verdict {
                crate::listen::amd::AmdVerdict::Human => AmdVerdict::Human,
                crate::listen::amd::AmdVerdict::Machine => AmdVerdict::Machine,
                crate::listen::amd::AmdVerdict::Unknown => AmdVerdict::Unknown,
            },
            ms: after_ms as f64,
        },
    }
}

pub(super) type EventTsfn = ThreadsafeFunction<NativeEvent, (), NativeEvent, Status, false>;

thread_local! {
    /// The event channel shared by every live connection (JS thread only).
    pub(super) static EVENTS: std::cell::RefCell<std::sync::Weak<EventTsfn>> =
        const { std::cell::RefCell::new(std::sync::Weak::new()) };
}

/// One threadsafe function for all connections' events, alive while any
/// connection is. One per connection made libuv walk every connection's
/// async handle on each wake-up (`uv__async_io` was 28% of the JS thread at
/// 500 calls) and defeated its coalescing of wake-ups. Strong, not weak: a
/// live connection keeps Node running, like a socket; when the last one is
/// closed the shards drop their sinks, the function is released and Node
/// may exit. `dispatch` must route by the events' `pc` field; it is the same
/// function for every connection (the JS wrapper's), so only the first
/// call's is used.
pub(super) fn event_channel(
    dispatch: Function<NativeEvent, ()>,
) -> Result<std::sync::Arc<EventTsfn>> {
    EVENTS.with(|cell| {
        if let Some(t) = cell.borrow().upgrade() {
            return Ok(t);
        }
        let t = std::sync::Arc::new(
            dispatch
                .build_threadsafe_function()
                .callee_handled::<false>()
                .build()?,
        );
        *cell.borrow_mut() = std::sync::Arc::downgrade(&t);
        Ok(t)
    })
}

thread_local! {
    /// Open connections that are `ref()`ed (the default). The shared event
    /// channel keeps Node's event loop alive only while this is non-zero, so
    /// `unref()` works per connection although the channel is one (JS thread
    /// only, like `EVENTS`).
    pub(super) static REFED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Ref or unref the shared event channel to match [`REFED`]. uv handles'
/// ref state is a flag, not a count, so calling this repeatedly is harmless.
pub(super) fn sync_event_loop_ref(env: &Env) {
    let Some(t) = EVENTS.with(|c| c.borrow().upgrade()) else {
        return; // no live channel: nothing holds the loop
    };
    let refed = REFED.with(|r| r.get()) > 0;
    // SAFETY: called on the JS thread with its env; the Arc keeps the
    // function unreleased for the duration of the call.
    let status = unsafe {
        if refed {
            napi::sys::napi_ref_threadsafe_function(env.raw(), t.raw())
        } else {
            napi::sys::napi_unref_threadsafe_function(env.raw(), t.raw())
        }
    };
    if status != napi::sys::Status::napi_ok {
        log::warn!("napi_(un)ref_threadsafe_function failed: status {status}");
    }
}
