/**
 * sipwire: an RTCPeerConnection for Node.js whose media runs in Rust, made for
 * SIP.js bots, IVRs and test harnesses.
 * @packageDocumentation
 */
export {
  RTCPeerConnection,
  RTCPeerConnectionIceEvent,
  DtmfEvent,
  AudioEvent,
  RTCDTMFToneChangeEvent,
  WarningEvent,
} from './peer-connection';
export type {
  RTCConfiguration,
  RTCIceServer,
  RTCSessionDescriptionInit,
  RTCIceCandidateInit,
  RTCSignalingState,
  RTCIceGatheringState,
  RTCIceConnectionState,
  RTCPeerConnectionState,
  MediaDirection,
  DtmfOptions,
  PlaySource,
  PlayResult,
  PlayOptions,
  RecordingOptions,
  AudioFrame,
  CodecName,
  OneWayDelayStats,
} from './peer-connection';
export { SipwireError, type SipwireErrorCode } from './errors';
export { detectTone, readWav, writeWav, nativeResources, sineWave, validateOffer } from './audio';
export {
  SessionDescriptionHandler,
  MediaFailedEvent,
  sessionDescriptionHandlerFactory,
  type MediaFailureReason,
  type SessionDescriptionHandlerConfiguration,
  type SessionDescriptionHandlerOptions,
} from './sdh';
export { Call, answerCall, DtmfCallEvent, CallMediaFailedEvent, type CallOptions, type DtmfMethod } from './bot';
export * from "./transport";
