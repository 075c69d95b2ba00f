//! Audio helpers of the binding: `playWav`'s file loading (off the JS
//! thread, as an `AsyncTask`), WAV read/write and tone detection for tests
//! and tools.

use super::to_napi;
use crate::error::Error as CoreError;
use crate::media::MediaEvent;
use crate::shard::PeerHandle;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// `playWav`'s blocking part: read, decode, resample.
pub struct LoadWav {
    pub(super) handle: PeerHandle,
    pub(super) stops: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub(super) stops_at_start: u64,
    pub(super) id: u64,
    pub(super) path: String,
    pub(super) looped: bool,
}

impl Task for LoadWav {
    type Output = (Vec<i16>, u32);
    type JsValue = f64;

    fn compute(&mut self) -> Result<Self::Output> {
        let path = &self.path;
        let bytes =
            std::fs::read(path).map_err(|e| to_napi(CoreError::Wav(format!("{path}: {e}"))))?;
        let wav = crate::wav::read_wav(&bytes)
            .map_err(|e| to_napi(CoreError::Wav(format!("{path}: {e}"))))?;
        crate::media::to_supported_rate(wav.samples, wav.sample_rate).map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, (samples, rate): Self::Output) -> Result<f64> {
        let duration_ms = samples.len() as f64 * 1000.0 / rate as f64;
        let (id, looped) = (self.id, self.looped);
        let stopped = self.stops.load(std::sync::atomic::Ordering::Acquire) != self.stops_at_start;
        self.handle.with(Box::new(move |peer, _| {
            if let Some(p) = peer {
                if stopped {
                    // stopPlayback() came while the file was loading.
                    p.push_media_events(vec![MediaEvent::PlayEnded { id, stopped: true }]);
                } else if let Err(e) = p.media_mut().play(id, &samples, rate, looped) {
                    // Unreachable for a supported rate; never silent all the same.
                    log::warn!("play: {e}");
                }
            }
            None
        }));
        Ok(duration_ms)
    }
}

/// Dominant frequency of a mono PCM buffer in Hz, or `null` for silence.
#[napi]
pub fn detect_tone(samples: Int16Array, sample_rate: u32) -> Option<f64> {
    crate::tone::dominant_frequency(&samples, sample_rate).map(|f| f as f64)
}

/// Read a WAV file: mono PCM and its rate.
#[napi(object)]
pub struct NativeWav {
    /// Mono samples.
    pub samples: Int16Array,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

/// Read a WAV file into mono 16-bit PCM.
#[napi]
pub fn read_wav(path: String) -> Result<NativeWav> {
    let bytes =
        std::fs::read(&path).map_err(|e| to_napi(CoreError::Wav(format!("{path}: {e}"))))?;
    let w = crate::wav::read_wav(&bytes)
        .map_err(|e| to_napi(CoreError::Wav(format!("{path}: {e}"))))?;
    Ok(NativeWav {
        samples: Int16Array::new(w.samples),
        sample_rate: w.sample_rate,
    })
}

/// Write mono 16-bit PCM to a WAV file.
#[napi]
pub fn write_wav(path: String, samples: Int16Array, sample_rate: u32) -> Result<()> {
    std::fs::write(&path, crate::wav::encode_wav(&samples, sample_rate))
        .map_err(|e| to_napi(CoreError::Wav(format!("{path}: {e}"))))
}

/// G.711 mu-law bytes of mono PCM (for streaming audio as `PCMU`).
#[napi]
pub fn pcmu_encode(samples: Int16Array) -> Buffer {
    let mut out = Vec::with_capacity(samples.len());
    crate::audio::g711::encode_ulaw(&samples, &mut out);
    out.into()
}

/// Mono PCM of G.711 mu-law bytes.
#[napi]
pub fn pcmu_decode(data: Buffer) -> Int16Array {
    let mut out = Vec::with_capacity(data.len());
    crate::audio::g711::decode_ulaw(&data, &mut out);
    Int16Array::new(out)
}
