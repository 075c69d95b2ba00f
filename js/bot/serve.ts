/**
 * The incoming half of a bot: answer every call and run a handler on it,
 * with the handler's errors reported instead of lost in SIP.js's
 * `onInvite` (which nobody awaits).
 *
 * @example
 * ```ts
 * const server = serveCalls(ua, async (call) => {
 *   const { digits } = await call.playAndCollect('menu.wav', { max: 1 });
 *   await call.hangup();
 * });
 * server.addEventListener('error', (e) => console.error('call failed:', e.error));
 * ```
 * @packageDocumentation
 */
import type { Invitation, UserAgent } from 'sip.js';
import { SipwireError } from '../errors';
import { TypedEventTarget } from '../typed-event-target';
import { answerCall, endCause, type AnswerCallOptions, type Call } from './call';

/** A call handler threw or rejected, or an incoming call could not be answered. */
export class CallErrorEvent extends Event {
  constructor(
    readonly error: unknown,
    /** The call, when it was answered. */
    readonly call: Call | undefined,
    readonly invitation: Invitation,
  ) {
    super('error');
  }
}

/** An incoming call was answered (before the handler runs). */
export class IncomingCallEvent extends Event {
  constructor(readonly call: Call) {
    super('call');
  }
}

/** Every event a {@link CallServer} dispatches, by type. */
export interface CallServerEventMap {
  call: IncomingCallEvent;
  error: CallErrorEvent;
}

/** What a call handler gets: the answered call and the INVITE it came from. */
export type CallHandler = (call: Call, invitation: Invitation) => void | Promise<void>;

/**
 * Answers a user agent's incoming calls and runs a handler per call.
 * Handler errors arrive as `error` events ({@link CallErrorEvent}); the call
 * is then hung up (reason `error`). `ERR_CLOSED` from a call that has ended
 * (the caller hung up mid-prompt) is not an error. With no `error` listener, the error is
 * thrown as an uncaught exception, as an `EventEmitter`'s `error` would be.
 */
export class CallServer extends TypedEventTarget<CallServerEventMap> {
  readonly #ua: UserAgent;
  readonly #previous: UserAgent['delegate'];
  #closed = false;

  constructor(ua: UserAgent, handler: CallHandler, options: AnswerCallOptions = {}) {
    super();
    this.#ua = ua;
    this.#previous = ua.delegate;
    ua.delegate = { ...ua.delegate, onInvite: (invitation) => void this.#serve(invitation, handler, options) };
  }

  async #serve(invitation: Invitation, handler: CallHandler, options: AnswerCallOptions): Promise<void> {
    let call: Call;
    try {
      call = await answerCall(invitation, options);
    } catch (error) {
      // The far end's offer (488 sent) or a CANCEL: not a bug in the handler,
      // so reported only to whoever listens.
      if (this.listenerCount('error') > 0) this.dispatchEvent(new CallErrorEvent(error, undefined, invitation));
      return;
    }
    try {
      this.dispatchEvent(new IncomingCallEvent(call));
      await handler(call, invitation);
    } catch (error) {
      // A caller who hangs up mid-prompt makes the next step fail with
      // ERR_CLOSED: that is the call ending, not a bug in the handler.
      if (call.state === 'ended' && error instanceof SipwireError && error.code === 'ERR_CLOSED') return;
      call[endCause]({ by: 'local', reason: 'error' });
      await call.hangup().catch(() => undefined);
      this.#report(new CallErrorEvent(error, call, invitation));
    }
  }

  #report(event: CallErrorEvent): void {
    if (this.listenerCount('error') > 0) {
      this.dispatchEvent(event);
      return;
    }
    process.nextTick(() => {
      throw event.error;
    });
  }

  /** Stop answering: restores the user agent's previous delegate. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ua.delegate = this.#previous;
  }
}

/** Answer every incoming call of `ua` and run `handler` on it; see {@link CallServer}. */
export function serveCalls(ua: UserAgent, handler: CallHandler, options: AnswerCallOptions = {}): CallServer {
  return new CallServer(ua, handler, options);
}
