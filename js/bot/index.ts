/**
 * Bot-facing call API over SIP.js sessions.
 * @packageDocumentation
 */
export {
  Call,
  answerCall,
  infoDigit,
  DtmfCallEvent,
  CallMediaFailedEvent,
  CallStateChangeEvent,
  CallEndedEvent,
  type CallEventMap,
  type CallOptions,
  type AnswerCallOptions,
  type DtmfMethod,
  type PlayAndCollectOptions,
  type PlayAndCollectResult,
} from './call';
export { CALL_TRANSITIONS, canTransition, CallEndedError, type CallState, type CallEnd, type CallEndReason } from './call-state';
export { digitOptions, type CollectDigitsOptions, type CollectDigitsResult, type CollectDigitsReason } from './digits';
export { ReferEvent, TransferFailedError, sipfragStatus, type TransferOptions, type ReferAcceptOptions } from './transfer';
export { dial, type DialOptions } from './dial';
export { serveCalls, CallServer, CallErrorEvent, IncomingCallEvent, type CallHandler, type CallServerEventMap } from './serve';
export { CallListening, type CallListenEventMap, type WaitForSpeechOptions, type WaitForSilenceOptions } from './listen';
