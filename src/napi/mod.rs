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
//! [`resources`] (leak counters) and `alloc` (the global allocator).

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

use crate::error::Error as CoreError;

fn to_napi(e: CoreError) -> napi::Error {
    napi::Error::from_reason(format!("[{}] {}", e.code(), e))
}
