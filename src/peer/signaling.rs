//! W3C signaling: description types and the signaling state machine.
//!
//! [`next_state`] is the whole transition table (W3C webrtc-pc §4.3.1, as
//! pion's `checkNextSignalingState`): which `setLocalDescription` /
//! `setRemoteDescription` is allowed in which state and where it leads. The
//! peer asks it before touching anything, so a refused call changes nothing.
//!
//! ```
//! use sipwire::peer::{next_state, Apply, SdpType, SignalingState};
//! let s = next_state(SignalingState::Stable, Apply::Local, SdpType::Offer).unwrap();
//! assert_eq!(s, SignalingState::HaveLocalOffer);
//! assert!(next_state(s, Apply::Remote, SdpType::Offer).is_err()); // glare
//! ```

use crate::error::{Error, Result};

/// W3C `RTCSdpType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpType {
    /// `offer`
    Offer,
    /// `answer`
    Answer,
    /// `pranswer` (treated as a final answer for media)
    Pranswer,
    /// `rollback`
    Rollback,
}

impl SdpType {
    /// Parse the W3C string.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "offer" => SdpType::Offer,
            "answer" => SdpType::Answer,
            "pranswer" => SdpType::Pranswer,
            "rollback" => SdpType::Rollback,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown description type {s:?}"
                )))
            }
        })
    }
    /// The W3C string.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Answer => "answer",
            SdpType::Pranswer => "pranswer",
            SdpType::Rollback => "rollback",
        }
    }
}

/// W3C `RTCSessionDescriptionInit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    /// Type.
    pub sdp_type: SdpType,
    /// SDP text.
    pub sdp: String,
}

/// W3C `RTCSignalingState`. `have-local-pranswer` and
/// `have-remote-pranswer` are not reached: a pranswer is applied as a final
/// answer (SIP's 183 early media is then the call's media).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalingState {
    /// `stable`
    Stable,
    /// `have-local-offer`
    HaveLocalOffer,
    /// `have-remote-offer`
    HaveRemoteOffer,
    /// `closed`
    Closed,
}

impl SignalingState {
    /// The W3C string.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalingState::Stable => "stable",
            SignalingState::HaveLocalOffer => "have-local-offer",
            SignalingState::HaveRemoteOffer => "have-remote-offer",
            SignalingState::Closed => "closed",
        }
    }
}

/// Which side a description is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply {
    /// `setLocalDescription`
    Local,
    /// `setRemoteDescription`
    Remote,
}

impl Apply {
    fn method(self) -> &'static str {
        match self {
            Apply::Local => "setLocalDescription",
            Apply::Remote => "setRemoteDescription",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Apply::Local => "local",
            Apply::Remote => "remote",
        }
    }
}

/// The state after applying a description of type `t` on side `side` in
/// state `cur`, or `InvalidState` saying why it is not allowed.
pub fn next_state(cur: SignalingState, side: Apply, t: SdpType) -> Result<SignalingState> {
    use Apply::*;
    use SdpType::*;
    use SignalingState::*;
    match (side, t, cur) {
        (Local, Rollback, HaveLocalOffer) | (Remote, Rollback, HaveRemoteOffer) => Ok(Stable),
        (_, Rollback, _) => Err(Error::InvalidState(format!(
            "cannot roll back a {} description in {}",
            side.noun(),
            cur.as_str()
        ))),
        (Local, Offer, Stable | HaveLocalOffer) => Ok(HaveLocalOffer),
        (Remote, Offer, Stable | HaveRemoteOffer) => Ok(HaveRemoteOffer),
        (Local, Answer | Pranswer, HaveRemoteOffer) => Ok(Stable),
        (Remote, Answer | Pranswer, HaveLocalOffer) => Ok(Stable),
        (_, t, s) => Err(Error::InvalidState(format!(
            "{}({}) is not allowed in {}",
            side.method(),
            t.as_str(),
            s.as_str()
        ))),
    }
}

/// `createOffer` is refused while a remote offer waits for its answer.
pub fn check_create_offer(cur: SignalingState) -> Result<()> {
    if cur == SignalingState::HaveRemoteOffer {
        return Err(Error::InvalidState(
            "createOffer called in have-remote-offer".into(),
        ));
    }
    Ok(())
}

/// `createAnswer` needs a remote offer.
pub fn check_create_answer(cur: SignalingState) -> Result<()> {
    if cur != SignalingState::HaveRemoteOffer {
        return Err(Error::InvalidState(format!(
            "createAnswer called in {}",
            cur.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Apply::*;
    use SdpType::*;
    use SignalingState::*;

    const STATES: [SignalingState; 4] = [Stable, HaveLocalOffer, HaveRemoteOffer, Closed];
    const TYPES: [SdpType; 4] = [Offer, Answer, Pranswer, Rollback];

    #[test]
    fn the_transition_table_is_exactly_the_w3c_one() {
        let allowed = [
            (Stable, Local, Offer, HaveLocalOffer),
            (HaveLocalOffer, Local, Offer, HaveLocalOffer),
            (HaveLocalOffer, Local, Rollback, Stable),
            (HaveRemoteOffer, Local, Answer, Stable),
            (HaveRemoteOffer, Local, Pranswer, Stable),
            (Stable, Remote, Offer, HaveRemoteOffer),
            (HaveRemoteOffer, Remote, Offer, HaveRemoteOffer),
            (HaveRemoteOffer, Remote, Rollback, Stable),
            (HaveLocalOffer, Remote, Answer, Stable),
            (HaveLocalOffer, Remote, Pranswer, Stable),
        ];
        let mut ok = 0;
        for cur in STATES {
            for side in [Local, Remote] {
                for t in TYPES {
                    let want = allowed
                        .iter()
                        .find(|(c, s, ty, _)| *c == cur && *s == side && *ty == t)
                        .map(|x| x.3);
                    match (next_state(cur, side, t), want) {
                        (Ok(got), Some(w)) => {
                            assert_eq!(got, w, "{cur:?} {side:?} {t:?}");
                            ok += 1;
                        }
                        (Err(e), None) => assert_eq!(e.code(), "ERR_INVALID_STATE"),
                        (got, want) => panic!("{cur:?} {side:?} {t:?}: {got:?} vs {want:?}"),
                    }
                }
            }
        }
        assert_eq!(ok, allowed.len());
    }

    #[test]
    fn refusals_name_the_call_and_the_state() {
        let e = next_state(HaveLocalOffer, Remote, Offer).unwrap_err();
        assert!(
            e.to_string()
                .contains("setRemoteDescription(offer) is not allowed in have-local-offer"),
            "{e}"
        );
        let e = next_state(Stable, Local, Rollback).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot roll back a local description in stable"),
            "{e}"
        );
        let e = next_state(Closed, Remote, Answer).unwrap_err();
        assert!(e.to_string().contains("in closed"), "{e}");
    }

    #[test]
    fn create_offer_and_answer_follow_the_state() {
        assert!(check_create_offer(Stable).is_ok());
        assert!(check_create_offer(HaveLocalOffer).is_ok());
        assert!(check_create_offer(HaveRemoteOffer).is_err());
        assert!(check_create_answer(HaveRemoteOffer).is_ok());
        for s in [Stable, HaveLocalOffer, Closed] {
            assert!(check_create_answer(s).is_err());
        }
    }

    #[test]
    fn sdp_types_round_trip_their_w3c_names() {
        for t in TYPES {
            assert_eq!(SdpType::parse(t.as_str()).unwrap(), t);
        }
        assert_eq!(
            SdpType::parse("bogus").unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
    }
}
