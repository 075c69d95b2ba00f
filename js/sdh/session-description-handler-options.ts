/**
 * Options of sipwire's SessionDescriptionHandler, shaped like SIP.js's Web
 * SDH options so existing code keeps its names.
 * @packageDocumentation
 */
import type { RTCConfiguration, VideoConfiguration } from '../peer-connection';

/**
 * Factory-level configuration (`sessionDescriptionHandlerFactoryOptions`, or
 * the argument of {@link sessionDescriptionHandlerFactory}).
 */
export interface SessionDescriptionHandlerConfiguration {
  /** Passed to every {@link RTCPeerConnection} (ICE servers, ports, bind addresses, codecs). */
  peerConnectionConfiguration?: RTCConfiguration;
  /**
   * Milliseconds to wait for ICE gathering before sending SDP (SIP cannot
   * trickle). `0` waits without bound (close() still ends it); `undefined`
   * means 5000. A per-call {@link SessionDescriptionHandlerOptions.iceGatheringTimeout} wins.
   */
  iceGatheringTimeout?: number;
}

/**
 * Per-call options (`sessionDescriptionHandlerOptions` /
 * `sessionDescriptionHandlerOptionsReInvite` in SIP.js).
 */
export interface SessionDescriptionHandlerOptions {
  /** Wanted local hold state for this offer or answer: hold offers `sendonly`. */
  hold?: boolean;
  /** Overrides the factory's gathering timeout for this call (ms, `0` = unbounded). */
  iceGatheringTimeout?: number;
  /** `iceRestart: true` makes new ICE credentials in the next offer. */
  offerOptions?: { iceRestart?: boolean };
  /** Accepted for compatibility with the Web SDH; not used. */
  answerOptions?: object;
  /** Free-form; not used by sipwire (audio is always on). */
  constraints?: object;
  /**
   * Video for this call (receive, record and send, see {@link RTCConfiguration.video});
   * wins over the factory's `peerConnectionConfiguration.video`. Read when the
   * call's connection is created (its first offer or answer).
   */
  video?: VideoConfiguration;
}
