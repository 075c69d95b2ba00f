/**
 * The factory to pass as SIP.js's `sessionDescriptionHandlerFactory`.
 * @packageDocumentation
 */
import type { Session, SessionDescriptionHandlerFactory } from 'sip.js';
import { SessionDescriptionHandler } from './session-description-handler';
import type { SessionDescriptionHandlerConfiguration } from './session-description-handler-options';
import type { RTCConfiguration } from '../peer-connection';

/**
 * Build a factory. Options given here are defaults; SIP.js's
 * `sessionDescriptionHandlerFactoryOptions` (same shape) override them. The
 * factory never throws: SIP.js calls it outside try/catch, and native
 * resources are created lazily, so failures surface as method rejections.
 *
 * @example
 * ```ts
 * new UserAgent({ sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory({ iceGatheringTimeout: 1000 }) });
 * ```
 */
export function sessionDescriptionHandlerFactory(
  defaults: SessionDescriptionHandlerConfiguration = {},
): SessionDescriptionHandlerFactory {
  const factory = (session: Session, options?: object) => {
    const o = (options ?? {}) as SessionDescriptionHandlerConfiguration;
    let logger;
    try {
      logger = session.userAgent.getLogger('sipwire.sdh');
    } catch {
      logger = undefined;
    }
    return new SessionDescriptionHandler(logger, {
      ...defaults,
      ...o,
      peerConnectionConfiguration: { ...defaults.peerConnectionConfiguration, ...o.peerConnectionConfiguration },
    });
  };
  defaultsOf.set(factory, defaults);
  return factory;
}

const defaultsOf = new WeakMap<SessionDescriptionHandlerFactory, SessionDescriptionHandlerConfiguration>();

/**
 * The connection configuration a user agent's calls get from its factory
 * (made by {@link sessionDescriptionHandlerFactory}) and its
 * `sessionDescriptionHandlerFactoryOptions`, later winning: what `answerCall`
 * checks an offer against before accepting it.
 */
export function effectivePeerConnectionConfiguration(
  factory: unknown,
  factoryOptions: unknown,
): RTCConfiguration {
  const d = typeof factory === 'function' ? defaultsOf.get(factory as SessionDescriptionHandlerFactory) : undefined;
  const o = (factoryOptions ?? {}) as SessionDescriptionHandlerConfiguration;
  return { ...d?.peerConnectionConfiguration, ...o.peerConnectionConfiguration };
}
