//! Audio building blocks for the media engine: Opus, G.722, G.711 and G.729
//! codecs,
//! sample-rate conversion, an audio jitter buffer and RTP sequence/timestamp
//! unwrapping. Everything here is sans-IO: no sockets, no clocks, no threads.

pub mod aggregate;
pub mod codec;
pub mod g711;
pub mod g722;
pub mod g729;
pub mod jitter;
pub mod reframe;
pub mod resample;
pub mod seq;
