//! sipwire core (see README).
#![deny(clippy::all)]

pub mod audio;
pub mod certificate;
pub mod config;
pub mod delay;
pub mod dtls_check;
pub mod dtmf;
pub mod early_checks;
pub mod error;
pub mod hangup;
pub mod media;
pub mod peer;
pub mod rtcp;
pub mod sdp;
pub mod shard;
pub mod srflx;
pub mod stats;
pub mod tone;
pub mod wav;

#[cfg(feature = "node")]
pub mod napi;
