/**
 * Bot-facing call API over SIP.js sessions.
 * @packageDocumentation
 */
export { Call, answerCall, bridge, CallBridge, DtmfCallEvent, CallMediaFailedEvent, type CallOptions, type DtmfMethod } from './call';
