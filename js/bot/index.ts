/**
 * Bot-facing call API over SIP.js sessions.
 * @packageDocumentation
 */
export { Call, answerCall, DtmfCallEvent, CallMediaFailedEvent, type CallOptions, type DtmfMethod } from './call';
export { CallListening, type CallListenEventMap, type WaitForSpeechOptions, type WaitForSilenceOptions } from './listen';
