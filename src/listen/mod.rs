//! Listening to received audio: in-band DTMF, voice activity, tones, beeps
//! and answering-machine detection. Everything here is sans-IO and works on
//! 8 kHz PCM; the media pipeline feeds it decoded frames on the media thread.

pub mod inband_dtmf;
pub mod spectrum;
pub mod vad;
pub mod amd;
pub mod tone_tracker;
