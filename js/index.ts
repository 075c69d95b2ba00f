/**
 * sipwire: an RTCPeerConnection for Node.js whose media runs in Rust, made for
 * SIP.js bots, IVRs and test harnesses.
 *
 * This entry needs no `sip.js`: it is the peer connection, its errors and the
 * audio helpers. The SIP.js pieces (SessionDescriptionHandler factory, `Call`,
 * `answerCall`, transports) are in `sipwire/sip`.
 * @packageDocumentation
 */
export {
  RTCPeerConnection,
  RTCPeerConnectionIceEvent,
  DtmfEvent,
  AudioEvent,
  RTCDTMFToneChangeEvent,
  WarningEvent,
  SpeechEndEvent,
  BeepEvent,
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
  ListeningOptions,
  WaitForToneOptions,
  AnsweringMachineResult,
  AnsweringMachineOptions,
} from './peer-connection';
export { SipwireError, type SipwireErrorCode } from './errors';
export { detectTone, readWav, writeWav, nativeResources, sineWave, validateOffer } from './audio';
