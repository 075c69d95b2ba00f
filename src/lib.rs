//! # sipwire core
//!
//! An `RTCPeerConnection` for servers that speak SIP: W3C signaling over
//! webrtc-rs's sans-IO `rtc`, a SIP interop policy for SDP, and an audio
//! pipeline (codecs, jitter buffer, RFC 4733 DTMF, RTCP) on a 20 ms clock.
//! The Node binding (`napi`, behind the default `node` feature) only
//! translates; everything else builds and tests without Node
//! (`cargo test --no-default-features`).
//!
//! ## Module map
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | binding | `napi` (feature `node`): `peer_connection`, `config`, `events`, `audio`, `conference`, `offer`, `resources` | JS <-> core translation, typed events and states, the event channel |
//! | I/O | [`shard`], [`recording`], [`logger`] | every thread, socket, file write and clock read; log output |
//! | connection | [`peer`] ([`peer::signaling`], [`peer::negotiation`], descriptions, gathering, RTCP schedule, teardown, plain-profile calls), [`identity`], [`intake`], [`stats`], [`srflx`], [`config`] | one peer connection: its randomness and certificate, signaling states and transitions, pure negotiation, remote SDP intake (shared with validateOffer), gathering, getStats |
//! | transport | [`transport`] ([`transport::webrtc`], [`transport::plain`]), [`plain_rtp`], [`sdes`], [`fingerprint`], [`certificate`], [`hangup`], [`early_checks`], [`ice_lite`] | the wire under the media: the `MediaTransport` seam, ICE + DTLS-SRTP through rtc, plain RTP and SDES-SRTP without ICE (ICE-lite when the offer has ICE), DTLS fingerprint check, hang-up detection |
//! | media | [`media`], [`dtmf`], [`rtcp`], [`delay`], [`graph`] | the per-call pipeline on the 20 ms tick; between calls: two-sided recordings, bridges (SPSC frame queues across shards), conferences |
//! | building blocks | [`audio`], [`sdp`], [`tone`], [`wav`], [`error`] | pure DSP, SDP model and normalisation, WAV codec, error codes |
//!
//! Dependencies point down the table: nothing in a lower row imports a
//! higher one. The media pipeline talks to the wire only through
//! [`transport::MediaTransport`], so another transport (plain RTP, SDES-SRTP)
//! changes neither [`media`] nor [`peer::negotiation`]; [`stats`] is handed
//! the values it reports ([`stats::PeerView`]) rather than reading the peer.
//!
//! ## The rule: the core never reads the clock
//!
//! [`peer::Peer`], [`media::Media`], the RTCP reporter, the DTMF sender and
//! receiver, the jitter buffer and the STUN gatherer are state machines: time
//! arrives as an `Instant` argument, bytes arrive as slices, and output is
//! polled. Only [`shard`] reads `Instant::now()` or touches a socket.
//! Randomness and the DTLS certificate come in the same way, through
//! [`identity::Identity`] given to [`peer::Peer::with_identity`]. That is
//! what lets `tests/two_peers.rs` run two full peers (ICE, DTLS, SRTP, Opus)
//! in memory under a virtual clock, seeded, with no sockets, threads or
//! sleeps.
//!
//! ## The run loop
//!
//! One I/O thread ("shard", twice as many as cores unless
//! `SIPWIRE_IO_THREADS` says otherwise) owns many peers and drives each one
//! like this:
//!
//! ```no_run
//! use sipwire::config::PeerConfig;
//! use sipwire::peer::Peer;
//! use std::time::{Duration, Instant};
//!
//! let local = "127.0.0.1:40000".parse().unwrap();
//! let mut peer = Peer::new(PeerConfig::default(), vec![local], Instant::now());
//! let mut next_tick = Instant::now();
//! loop {
//!     let now = Instant::now();
//!     // 1. datagrams that arrived on `local`:
//!     //    peer.handle_datagram(now, local, from, &bytes);
//!     // 2. timers (ICE checks, DTLS retransmits, gathering timeouts):
//!     if peer.poll_timeout().is_some_and(|t| t <= now) {
//!         peer.handle_timeout(now);
//!     }
//!     // 3. the 20 ms media clock (encode, send, decode, DTMF, RTCP):
//!     if now >= next_tick {
//!         peer.media_tick(now);
//!         next_tick += Duration::from_millis(20);
//!     }
//!     // 4. drain outputs: datagrams to send, then events for the application.
//!     while let Some(t) = peer.poll_transmit() {
//!         let _ = (t.local, t.remote, t.data); // socket.send_to(&t.data, t.remote)
//!     }
//!     while let Some(ev) = peer.poll_event() {
//!         let _ = ev; // hand to JS: state changes, DTMF, audio batches, warnings
//!     }
//!     # break;
//! }
//! ```
//!
//! ## Threading
//!
//! - **JS main thread**: napi calls. They post closures to the peer's shard
//!   and return; promises settle when the shard has run the closure and
//!   refreshed the snapshot that synchronous getters read.
//! - **Shards**: one `mio` poll, one command channel with a waker, one 20 ms
//!   tick for all their peers, and a timer heap, so a wake-up costs O(events),
//!   not O(calls). A peer stays on its shard for life; a panic inside one peer
//!   fails and closes that peer only.
//! - **Events** leave every shard through one process-wide threadsafe function
//!   and are routed by connection id in JS.
//!
//! ## Logging
//!
//! Silent by default; `SIPWIRE_LOG=warn` (or `DEBUG=sipwire*`) prints
//! structured lines tagged with the connection id (see [`logger`]). Conditions
//! an application must act on are also delivered as `warning` events.
#![deny(clippy::all)]

pub mod audio;
pub mod certificate;
pub mod config;
pub mod delay;
pub mod dtmf;
pub mod early_checks;
pub mod error;
pub mod fingerprint;
pub mod graph;
pub mod hangup;
pub mod ice_lite;
pub mod identity;
pub mod intake;
pub mod listen;
pub mod logger;
pub mod media;
pub mod peer;
pub mod plain_rtp;
pub mod recording;
pub mod rtcp;
pub mod sdes;
pub mod sdp;
pub mod shard;
pub mod srflx;
pub mod stats;
mod stun_answer;
pub mod tone;
pub mod transport;
pub mod video;
pub mod wav;

#[cfg(feature = "node")]
pub mod napi;
