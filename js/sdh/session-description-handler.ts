/**
 * A SIP.js 0.21 `SessionDescriptionHandler` over sipwire's native
 * RTCPeerConnection, for SIP.js running in Node. It meets the contract in
 * `sipjs-sdh-contract.md`: offer/answer inferred from signaling state, complete
 * SDP after gathering, modifiers applied, `hold` honoured in offers and
 * answers, rollback, one FIFO queue for every operation, `sendDtmf` that
 * returns `false` instead of throwing, and an idempotent `close()`.
 *
 * @example
 * ```ts
 * import { UserAgent } from 'sip.js';
 * import { sessionDescriptionHandlerFactory } from 'sipwire/sip';
 * const ua = new UserAgent({
 *   sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory({
 *     peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'] },
 *   }),
 * });
 * ```
 * @packageDocumentation
 */
import type {
  BodyAndContentType,
  Core,
  SessionDescriptionHandler as SipSessionDescriptionHandler,
  SessionDescriptionHandlerModifier,
} from 'sip.js';

type Logger = Core.Logger;
import { DtmfEvent, RTCPeerConnection, WarningEvent, type RTCSessionDescriptionInit } from '../peer-connection';
import { TypedEventTarget } from '../typed-event-target';
import { SipwireError } from '../errors';
import type { SessionDescriptionHandlerConfiguration, SessionDescriptionHandlerOptions } from './session-description-handler-options';

/**
 * Why media failed: ICE/DTLS failure, no RTP for `rtpTimeout`, the far end hung up
 * on the media path (DTLS `close_notify`, or RTCP BYE and then silence), or its DTLS
 * certificate does not match the SDP's `a=fingerprint`.
 */
export type MediaFailureReason = 'connection-failed' | 'rtp-timeout' | 'remote-closed' | 'dtls-fingerprint';

/** The `warning` codes that announce a `failed` connection, and the reason they give it. */
const FAILURE_CODES: Record<string, MediaFailureReason> = {
  'remote-closed': 'remote-closed',
  'dtls-fingerprint-mismatch': 'dtls-fingerprint',
};

/** Event fired on the SDH when media fails; a bot should hang up (BYE). */
export class MediaFailedEvent extends Event {
  readonly reason: MediaFailureReason;
  constructor(reason: MediaFailureReason) {
    super('mediafailed');
    this.reason = reason;
  }
}

const DTMF_TONES = /^[0-9A-D#*,]+$/i;
const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * sipwire's SessionDescriptionHandler. Events (EventTarget): `dtmf` (RFC 4733
 * digits), `mediafailed` ({@link MediaFailedEvent}), `warning` (e.g. skipped
 * `.local` candidates; also logged through SIP.js's logger), `close`.
 */
/** Every event a {@link SessionDescriptionHandler} dispatches, by type. */
export interface SessionDescriptionHandlerEventMap {
  /** An RFC 4733 digit. */
  dtmf: DtmfEvent;
  mediafailed: MediaFailedEvent;
  warning: WarningEvent;
  close: Event;
}

export class SessionDescriptionHandler
  extends TypedEventTarget<SessionDescriptionHandlerEventMap>
  implements SipSessionDescriptionHandler
{
  readonly #logger: Logger | undefined;
  readonly #config: SessionDescriptionHandlerConfiguration;
  #pc: RTCPeerConnection | undefined;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #stopWaiting: (() => void) | undefined;

  constructor(logger: Logger | undefined, config: SessionDescriptionHandlerConfiguration = {}) {
    super();
    this.#logger = logger;
    this.#config = config;
  }

  /**
   * The native connection, created on first use (so the factory never
   * throws). `undefined` after close() or if creation failed.
   */
  get peerConnection(): RTCPeerConnection | undefined {
    if (this.#closed) return undefined;
    try {
      return this.#peer();
    } catch {
      return undefined;
    }
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  #peer(options?: SessionDescriptionHandlerOptions): RTCPeerConnection {
    if (this.#closed) throw new SipwireError('ERR_CLOSED', 'SessionDescriptionHandler is closed');
    if (!this.#pc) {
      const base = this.#config.peerConnectionConfiguration ?? {};
      const pc = new RTCPeerConnection(options?.video ? { ...base, video: options.video } : base);
      pc.addEventListener('dtmf', (e) => this.dispatchEvent(new DtmfEvent(e.digit, e.method)));
      // A coded warning comes just before the `failed` it explains.
      let failure: MediaFailureReason = 'connection-failed';
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState === 'failed') this.#mediaFailed(failure);
      });
      pc.addEventListener('rtptimeout', () => this.#mediaFailed('rtp-timeout'));
      pc.addEventListener('warning', (e) => {
        const known = FAILURE_CODES[e.code];
        if (known) failure = known;
        this.#logger?.warn(`SessionDescriptionHandler: ${e.code ? `[${e.code}] ` : ''}${e.message}`);
        this.dispatchEvent(new WarningEvent(e.message, e.code));
      });
      this.#pc = pc;
    }
    return this.#pc;
  }

  #mediaFailed(reason: MediaFailureReason): void {
    if (this.#closed) return;
    this.#logger?.warn(`SessionDescriptionHandler: media failed (${reason})`);
    this.dispatchEvent(new MediaFailedEvent(reason));
  }

  /** Run operations one at a time, in call order (SIP.js can overlap them). */
  #enqueue<T>(name: string, op: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#closed) throw new SipwireError('ERR_CLOSED', `SessionDescriptionHandler.${name}: closed`);
      this.#logger?.debug(`SessionDescriptionHandler.${name}`);
      return op();
    });
    this.#tail = run.catch(() => undefined);
    return run.catch((e) => {
      this.#logger?.error(`SessionDescriptionHandler.${name} failed: ${e?.message ?? e}`);
      throw e;
    });
  }

  /**
   * Offer when stable, answer after a remote offer; waits for gathering so the
   * SDP carries every candidate. Resolves `{ body, contentType: 'application/sdp' }`.
   */
  getDescription(
    options?: SessionDescriptionHandlerOptions,
    modifiers?: Array<SessionDescriptionHandlerModifier>,
  ): Promise<BodyAndContentType> {
    return this.#enqueue('getDescription', async () => {
      const pc = this.#peer(options);
      // A local offer that was never answered (SIP.js failed to send it while
      // a peer offer crossed) is stale: roll it back and make a fresh one.
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      pc.setDirection(options?.hold ? 'sendonly' : 'sendrecv');
      let desc: RTCSessionDescriptionInit;
      if (pc.signalingState === 'stable') desc = await pc.createOffer({ iceRestart: !!options?.offerOptions?.iceRestart });
      else if (pc.signalingState === 'have-remote-offer') desc = await pc.createAnswer();
      else throw new SipwireError('ERR_INVALID_STATE', `getDescription in ${pc.signalingState}`);
      desc = await applyModifiers(desc, modifiers);
      await pc.setLocalDescription(desc);
      await this.#waitForGathering(options);
      this.#peer(); // closed while gathering?
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new SipwireError('ERR_INVALID_STATE', 'no local description after setLocalDescription');
      return { body: sdp, contentType: 'application/sdp' };
    });
  }

  async #waitForGathering(options?: SessionDescriptionHandlerOptions): Promise<void> {
    const t = options?.iceGatheringTimeout ?? this.#config.iceGatheringTimeout ?? 5000;
    const stop = new Promise<void>((resolve) => (this.#stopWaiting = resolve));
    await Promise.race([this.#peer().waitForGatheringComplete(t === 0 ? MAX_TIMEOUT : Math.min(t, MAX_TIMEOUT)), stop]);
    this.#stopWaiting = undefined;
  }

  /** Stop waiting for ICE gathering now and send what was gathered (as the Web SDH's method). */
  iceGatheringComplete(): void {
    this.#stopWaiting?.();
  }

  /** True for `application/sdp`, case-insensitive, parameters ignored. */
  hasDescription(contentType: string): boolean {
    return /^\s*application\/sdp\s*(;|$)/i.test(contentType ?? '');
  }

  /**
   * Apply the peer's SDP: an answer in `have-local-offer`, an offer when
   * stable. Rejects with a {@link SipwireError} (`ERR_SDP_PARSE`,
   * `ERR_NO_COMMON_CODEC`, `ERR_UNSUPPORTED_PROFILE`) on unusable SDP.
   */
  setDescription(
    sdp: string,
    options?: SessionDescriptionHandlerOptions,
    modifiers?: Array<SessionDescriptionHandlerModifier>,
  ): Promise<void> {
    return this.#enqueue('setDescription', async () => {
      const pc = this.#peer(options);
      let type: 'offer' | 'answer';
      if (pc.signalingState === 'stable') type = 'offer';
      else if (pc.signalingState === 'have-local-offer') {
        // An actpass SDP in have-local-offer is a crossing offer (the window
        // before our re-INVITE reached the wire), not an answer.
        type = /^a=setup:actpass/im.test(sdp) ? 'offer' : 'answer';
        if (type === 'offer') await pc.setLocalDescription({ type: 'rollback' });
      } else throw new SipwireError('ERR_INVALID_STATE', `setDescription in ${pc.signalingState}`);
      const desc = await applyModifiers({ type, sdp }, modifiers);
      await pc.setRemoteDescription(desc);
    });
  }

  /** Revert a pending local or remote offer; a no-op when nothing is pending or after close(). */
  rollbackDescription(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#enqueue('rollbackDescription', async () => {
      const pc = this.#pc;
      if (!pc) return;
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      else if (pc.signalingState === 'have-remote-offer') await pc.setRemoteDescription({ type: 'rollback' });
    }).catch(() => undefined);
  }

  /**
   * RFC 4733 DTMF. Returns `false` (never throws) when closed, when
   * telephone-event was not negotiated, when the direction cannot send, or for
   * invalid tones. Options as the Web SDH: `duration` (ms, 40-6000, default
   * 100), `interToneGap` (ms, >= 30, default 70). A new call replaces the queue.
   */
  sendDtmf(tones: string, options?: unknown): boolean {
    const pc = this.#closed ? undefined : this.#pc;
    if (!pc || typeof tones !== 'string' || !DTMF_TONES.test(tones) || !pc.canSendDtmf) return false;
    const o = (options ?? {}) as { duration?: number; interToneGap?: number };
    const duration = Math.min(6000, Math.max(40, Number(o.duration ?? 100) || 100));
    const interToneGap = Math.max(30, Number(o.interToneGap ?? 70) || 70);
    pc.sendDtmf(tones, { duration, interToneGap }).catch((e) => this.#logger?.warn(`sendDtmf: ${e.message}`));
    return true;
  }

  /** Idempotent: frees sockets, timers and the native connection; pending operations reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWaiting?.();
    try {
      this.#pc?.close();
    } catch (e) {
      this.#logger?.warn(`SessionDescriptionHandler.close: ${(e as Error).message}`);
    }
    this.dispatchEvent(new Event('close'));
  }
}

async function applyModifiers(
  desc: RTCSessionDescriptionInit,
  modifiers?: Array<SessionDescriptionHandlerModifier>,
): Promise<RTCSessionDescriptionInit> {
  let d = desc;
  for (const m of modifiers ?? []) {
    const out = (await m(d as never)) as unknown as RTCSessionDescriptionInit;
    if (!out || typeof out.sdp !== 'string' || typeof out.type !== 'string') {
      throw new SipwireError('ERR_INVALID_ARG', 'a SessionDescriptionHandlerModifier returned no sdp/type');
    }
    d = out;
  }
  return d;
}
