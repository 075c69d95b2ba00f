//! Video sending of the binding: `playVideo` reads and parses the clip on
//! a thread of its own (never the JS thread or a shard's media tick), then
//! hands it to the peer, whose sender paces it out.

use super::peer_connection::NativePeerConnection;
use super::{to_napi, Deferred};
use crate::error::Error as CoreError;
use crate::video::sender::PlayDone;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::atomic::{AtomicU64, Ordering};

/// Orders `playVideo`/`stopVideo` calls: clips load on threads of their
/// own, so they may reach the peer out of order (see `VideoSender::play`).
static GENERATION: AtomicU64 = AtomicU64::new(1);

#[napi]
impl NativePeerConnection {
    /// Send an IVF (VP8) or H.264 Annex B clip as our video, paced by its
    /// timestamps (Annex B has none: `fps`, default 30), looping when
    /// `looped`. Resolves `false` when the clip ended, `true` when it was
    /// stopped or replaced; rejects with `ERR_INVALID_ARG` for an
    /// unreadable, oversized or malformed file, `ERR_INVALID_STATE` when
    /// video is not negotiated for sending or in another codec.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn play_video<'e>(
        &self,
        env: &'e Env,
        path: String,
        looped: Option<bool>,
        fps: Option<f64>,
    ) -> Result<Object<'e>> {
        let (deferred, promise): (Deferred<bool>, Object<'e>) = env.create_deferred()?;
        let handle = self.handle.clone();
        let looped = looped.unwrap_or(false);
        let fps = fps.unwrap_or(30.0);
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        std::thread::Builder::new()
            .name("sipwire-video-load".into())
            .spawn(move || match crate::video::clip::load_shared(&path, fps) {
                Err(e) => deferred.reject(to_napi(CoreError::InvalidArgument(e))),
                Ok(clip) => {
                    let done = PlayDone::new(move |r| match r {
                        Ok(stopped) => deferred.resolve(Box::new(move |_| Ok(stopped))),
                        Err(e) => deferred.reject(to_napi(CoreError::InvalidState(e))),
                    });
                    handle.with(Box::new(move |peer, now| {
                        match peer {
                            Some(p) => p.play_video(now, clip, looped, done, generation),
                            None => done.settle(Err("the connection is closed".into())),
                        }
                        None
                    }));
                }
            })
            .map_err(|e| to_napi(CoreError::Io(e)))?;
        Ok(promise)
    }

    /// Stop sending video; the pending `playVideo` resolves `true`.
    #[napi]
    pub fn stop_video(&self) {
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        self.handle.with(Box::new(move |peer, _| {
            if let Some(p) = peer {
                p.stop_video(generation);
            }
            None
        }));
    }
}
