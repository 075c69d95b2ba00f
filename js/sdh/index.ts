/**
 * SIP.js SessionDescriptionHandler for Node, on sipwire's native media.
 * @packageDocumentation
 */
export { SessionDescriptionHandler, MediaFailedEvent, type MediaFailureReason } from './session-description-handler';
export { sessionDescriptionHandlerFactory } from './session-description-handler-factory';
export type { SessionDescriptionHandlerConfiguration, SessionDescriptionHandlerOptions } from './session-description-handler-options';
