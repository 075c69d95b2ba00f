//! `validateOffer`: an offer checked as `setRemoteDescription` would, before a call is accepted.

use super::to_napi;
use crate::config::PeerConfigInput;
use crate::error::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Why an offer cannot be accepted.
#[napi(object)]
pub struct NativeOfferProblem {
    /// Stable code (`ERR_SDP_PARSE`, `ERR_NO_COMMON_CODEC`, `ERR_UNSUPPORTED_PROFILE`, ...).
    pub code: String,
    /// What was wrong.
    pub message: String,
}

/// Check an SDP offer as `setRemoteDescription` would; `null` when acceptable.
/// SIP uses it to answer 488 before accepting a call.
/// `allowUnencryptedMedia` (default true) as in the constructor: false
/// refuses an RTP/AVP offer.
#[napi(
    ts_args_type = "sdp: string, codecs?: Array<string> | undefined | null, allowUnencryptedMedia?: boolean | undefined | null"
)]
pub fn validate_offer(
    sdp: napi::JsString<'_>,
    codecs: Option<Vec<String>>,
    allow_unencrypted_media: Option<bool>,
) -> Result<Option<NativeOfferProblem>> {
    let cfg = PeerConfigInput {
        codecs: codecs.unwrap_or_default(),
        allow_unencrypted_media,
        ..Default::default()
    }
    .validate()
    .map_err(to_napi)?;
    let problem = |e: CoreError| NativeOfferProblem {
        code: e.code().into(),
        message: e.to_string(),
    };
    // Refuse an oversized offer by its length, before copying it (UTF-8 is
    // never shorter than UTF-16): a 6 MB body costs nothing on this thread.
    if let Err(e) = crate::sdp::limits::check_len(sdp.utf16_len()?, "offer") {
        return Ok(Some(problem(e.into())));
    }
    let sdp = sdp.into_utf8()?.into_owned()?;
    Ok(crate::peer::validate_offer_for(&sdp, &cfg)
        .err()
        .map(problem))
}
