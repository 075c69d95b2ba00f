/**
 * `sipwire/sip`: the SIP.js side of sipwire. A SIP.js 0.21
 * SessionDescriptionHandler factory on sipwire's native media, the bot `Call`
 * API and SIP transports for Node. `sip.js` is a peer dependency of this entry
 * (`npm install sipwire sip.js`); the root `sipwire` entry does not load it.
 *
 * @example
 * ```ts
 * import { UserAgent } from "sip.js";
 * import { sessionDescriptionHandlerFactory, answerCall, WsTransport } from "sipwire/sip";
 * ```
 * @packageDocumentation
 */
export {
  SessionDescriptionHandler,
  MediaFailedEvent,
  sessionDescriptionHandlerFactory,
  type MediaFailureReason,
  type SessionDescriptionHandlerConfiguration,
  type SessionDescriptionHandlerOptions,
} from './sdh';
export * from './bot';
export * from './transport';
/** Re-exported from `sipwire` for `answerCall`-style checks before accepting an INVITE. */
export { validateOffer } from './audio';
