/**
 * Call transfer (RFC 3515 REFER, RFC 5589 transfer flows): what a transferor
 * waits for, and the `refer` event a transferee decides on.
 *
 * @example
 * ```ts
 * await call.transfer('sip:agent@example.com');        // blind: resolves on NOTIFY 200
 * call.addEventListener('refer', (e) => void e.accept()); // as the transferee: dial the target
 * ```
 * @packageDocumentation
 */
import type { InviterInviteOptions, InviterOptions, Notification, Referral } from 'sip.js';
import { SipwireError } from '../errors';
import type { Call, CallOptions } from './call';

/** A transfer that failed: the REFER was refused, the target refused, or no final NOTIFY came. */
export class TransferFailedError extends SipwireError {
  /** The status of the refused REFER, or the one the final NOTIFY reported. */
  readonly sipStatus: number | undefined;
  constructor(message: string, sipStatus?: number) {
    super('ERR_TRANSFER_FAILED', message);
    this.sipStatus = sipStatus;
  }
}

/** Options of `call.transfer()`. */
export interface TransferOptions {
  /** Hang up (BYE) this call once the target answered, as RFC 5589 has the transferor do. @defaultValue true */
  hangup?: boolean;
  /** How long to wait for the NOTIFY with the target's final answer, in ms. @defaultValue 32000 */
  timeoutMs?: number;
}

/** Options of {@link ReferEvent.accept}. */
export interface ReferAcceptOptions extends CallOptions {
  /** Options for the INVITE to the target (extra headers, SDH options). */
  inviterOptions?: InviterOptions;
  inviteOptions?: InviterInviteOptions;
}

/** The status line of a `message/sipfrag` NOTIFY body (`SIP/2.0 200 OK`), or undefined. */
export function sipfragStatus(body: string | undefined): number | undefined {
  const m = /^\s*SIP\/2\.0\s+(\d{3})\b/.exec(body ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Watch the NOTIFYs of a REFER this side sent: resolves on a 2xx sipfrag,
 * rejects on a final error or after `timeoutMs`.
 */
export function referOutcome(timeoutMs: number): {
  onNotify: (n: Notification) => void;
  onReferRejected: (status: number) => void;
  outcome: Promise<void>;
  cancel: (why: Error) => void;
} {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const outcome = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  const timer = setTimeout(() => reject(new TransferFailedError(`no final NOTIFY within ${timeoutMs} ms`)), timeoutMs);
  void outcome.then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
  return {
    outcome,
    onNotify: (n) => {
      void n.accept();
      const status = sipfragStatus(n.request.body);
      if (status === undefined || status < 200) return;
      if (status < 300) resolve();
      else reject(new TransferFailedError(`the transfer target answered ${status}`, status));
    },
    onReferRejected: (status) => reject(new TransferFailedError(`REFER rejected with ${status}`, status)),
    cancel: reject,
  };
}

/**
 * An incoming REFER: the far end asks this bot to call another party (a blind
 * transfer), or to replace one of the target's calls (`replaces` set: an
 * attended transfer) at `referTo`. Call {@link accept} or {@link reject} from the listener;
 * a REFER neither accepted nor rejected when the listeners return (and not
 * `preventDefault()`ed) is declined with 603.
 */
export class ReferEvent extends Event {
  /** The Refer-To URI, without its header part (`target` is the DOM event's own). */
  readonly referTo: string;
  /** The `Replaces` of an attended transfer (`call-id;to-tag=..;from-tag=..`), if any. */
  readonly replaces: string | undefined;
  /** The `Referred-By` header, if any. */
  readonly referredBy: string | undefined;
  /** SIP.js's view of the request. */
  readonly referral: Referral;
  #answered = false;
  readonly #follow: (options: ReferAcceptOptions) => Promise<Call>;

  constructor(referral: Referral, follow: (options: ReferAcceptOptions) => Promise<Call>) {
    super('refer', { cancelable: true });
    this.referral = referral;
    const uri = referral.referTo.uri.clone();
    uri.clearHeaders();
    this.referTo = uri.toString();
    this.replaces = referral.replaces;
    this.referredBy = referral.referredBy;
    this.#follow = follow;
  }

  /** True once accept() or reject() was called. */
  get answered(): boolean {
    return this.#answered;
  }

  /**
   * Answer 202, call the target (with `Replaces` and `Referred-By` when the
   * REFER had them) and report its progress to the referrer by NOTIFY.
   * Resolves with the new call once established; rejects with a
   * `CallEndedError` (its `sipStatus` says why) when the target refuses.
   */
  accept(options: ReferAcceptOptions = {}): Promise<Call> {
    if (this.#answered) return Promise.reject(new SipwireError('ERR_INVALID_STATE', 'this REFER was already answered'));
    this.#answered = true;
    return this.referral.accept().then(() => this.#follow(options));
  }

  /** Refuse the REFER (603 Decline unless told otherwise). */
  async reject(statusCode = 603): Promise<void> {
    if (this.#answered) throw new SipwireError('ERR_INVALID_STATE', 'this REFER was already answered');
    this.#answered = true;
    await this.referral.reject({ statusCode });
  }
}
