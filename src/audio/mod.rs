//! Audio building blocks for the media engine: G.711 and Opus codecs,
//! sample-rate conversion, an audio jitter buffer and RTP sequence/timestamp
//! unwrapping. Everything here is sans-IO: no sockets, no clocks, no threads.

pub mod aggregate;
pub mod codec;
pub mod g711;
pub mod jitter;
pub mod reframe;
pub mod resample;
pub mod seq;
