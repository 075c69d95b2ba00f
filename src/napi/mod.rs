//! The Node binding: a translation table between JS values and the core.
//! No logic lives here that a `cargo test` could not reach through the core.
//!
//! Errors cross as `Error` objects whose message starts with `[CODE]`; the
//! TypeScript facade in `js/` turns that prefix into `err.code` and a
//! DOMException-style `err.name`.
//!
//! Layout: [`peer_connection`] (the `NativePeerConnection` class),
//! [`config`] (constructor options and descriptions as JS passes them),
//! [`events`] (event and state types, the shared event channel), [`audio`]
//! (WAV loading off the JS thread, WAV, tone and G.711 helpers),
//! [`conference`] (the mixer class), [`offer`] (`validateOffer`),
//! [`resources`] (leak counters), `alloc` (the global allocator), and here
//! the helpers they share (errors to JS, promise settling, rate checks).

// napi-derive generates code that trips these lints; the items are FFI glue.
#![allow(clippy::new_without_default)]

mod alloc;
pub mod audio;
pub mod conference;
pub mod config;
pub mod events;
pub mod offer;
pub mod peer_connection;
pub mod resources;
mod video;

use crate::error::Error as CoreError;
use napi::bindgen_prelude::*;

fn to_napi(e: CoreError) -> napi::Error {
    napi::Error::from_reason(format!("[{}] {}", e.code(), e))
}

type Deferred<T> = napi::JsDeferred<T, Box<dyn FnOnce(Env) -> Result<T> + Send>>;

/// A callback, callable from any thread, that settles `deferred`: a failure
/// rejects with `ERR_WAV` and the reason (which names the file).
fn settle_with(deferred: Deferred<()>) -> crate::media::FinishCallback {
    Box::new(move |r| match r {
        Ok(()) => deferred.resolve(Box::new(|_| Ok(()))),
        Err(msg) => deferred.reject(to_napi(CoreError::Wav(msg))),
    })
}

/// `sampleRate` arguments: the rates the pipeline accepts.
fn check_rate(rate: u32) -> Result<()> {
    if [8000, 16000, 48000].contains(&rate) {
        Ok(())
    } else {
        Err(to_napi(CoreError::InvalidArgument(format!(
            "sampleRate must be 8000, 16000 or 48000, got {rate}"
        ))))
    }
}
