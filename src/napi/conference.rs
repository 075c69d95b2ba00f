//! The conference mixer class (see `crate::graph::mix`).

use super::check_rate;
use super::peer_connection::NativePeerConnection;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A participant as [`NativeConference::participants`] reports it.
#[napi(object)]
pub struct NativeParticipant {
    /// Seat id, as `join` returned it.
    pub id: f64,
    /// RMS level of the last 20 ms it sent, 0..1.
    pub level: f64,
    /// Level above about -40 dBFS within the last 300 ms.
    pub speaking: bool,
    /// Not mixed into anyone's audio.
    pub muted: bool,
    /// Gain applied to what it says.
    pub gain: f64,
}

/// A conference mixer (see `crate::graph::mix`). Use the `Conference`
/// wrapper from `js/`.
#[napi]
pub struct NativeConference {
    mixer: std::sync::Arc<std::sync::Mutex<crate::graph::mix::Mixer>>,
}

impl NativeConference {
    fn mixer(&self) -> std::sync::MutexGuard<'_, crate::graph::mix::Mixer> {
        self.mixer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[napi]
impl NativeConference {
    /// A conference mixing at `sample_rate` (8000, 16000 or 48000).
    #[napi(constructor)]
    pub fn new(sample_rate: u32) -> Result<Self> {
        check_rate(sample_rate)?;
        Ok(NativeConference {
            mixer: crate::graph::mix::Mixer::new(sample_rate),
        })
    }

    /// Seat `pc` in the conference (leaving any bridge or conference it
    /// was in); returns the seat id.
    #[napi]
    pub fn join(&self, pc: &NativePeerConnection) -> f64 {
        let seat = crate::graph::mix::Mixer::seat(&self.mixer);
        let id = seat.id();
        // A closed connection never runs this: the seat is dropped with
        // the closure, which takes it out of the mixer.
        pc.post(move |p, _| p.media_mut().attach_port(crate::graph::Port::Seat(seat)));
        id as f64
    }

    /// Take seat `id` (which `pc` holds) out of the conference.
    #[napi]
    pub fn leave(&self, pc: &NativePeerConnection, id: f64) {
        let id = id as u64;
        pc.post(move |p, _| {
            p.media_mut().detach_port(Some(id));
        });
    }

    /// Mute or unmute a seat; false when it is not in the conference.
    #[napi]
    pub fn set_muted(&self, id: f64, muted: bool) -> bool {
        self.mixer().set_muted(id as u64, muted)
    }

    /// Scale what a seat says (0..4); false when it is not in the conference.
    #[napi]
    pub fn set_gain(&self, id: f64, gain: f64) -> bool {
        self.mixer().set_gain(id as u64, gain as f32)
    }

    /// Every seat with its level and speaking state.
    #[napi]
    pub fn participants(&self) -> Vec<NativeParticipant> {
        self.mixer()
            .seats()
            .into_iter()
            .map(|s| NativeParticipant {
                id: s.id as f64,
                level: s.level,
                speaking: s.speaking,
                muted: s.muted,
                gain: s.gain,
            })
            .collect()
    }

    /// Play mono PCM to every participant, after what is still queued.
    #[napi]
    pub fn announce(&self, samples: Int16Array, sample_rate: u32) -> Result<()> {
        check_rate(sample_rate)?;
        let rate = self.mixer().rate();
        let mut pcm = Vec::with_capacity(samples.len() * rate as usize / sample_rate as usize + 1);
        crate::media::convert(&mut Vec::new(), sample_rate, rate, &samples, &mut pcm);
        self.mixer().announce(&pcm);
        Ok(())
    }

    /// Ms of announcement still to play.
    #[napi]
    pub fn announcement_left_ms(&self) -> f64 {
        let m = self.mixer();
        m.announcement_left() as f64 * 1000.0 / f64::from(m.rate())
    }

    /// Drop the announcement queue.
    #[napi]
    pub fn stop_announcement(&self) {
        self.mixer().stop_announcement();
    }

    /// End the conference: every participant leaves on its next tick.
    #[napi]
    pub fn close(&self) {
        self.mixer().close();
    }
}
