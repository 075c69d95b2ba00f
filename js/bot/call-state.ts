/**
 * The state of a {@link Call} as one explicit machine, with the transitions it
 * allows written down as a table (as pion's `signalingstate.go` does), and the
 * record of why a call ended.
 *
 * SIP.js has its own `SessionState`; a call maps it onto these states and adds
 * what SIP.js does not track: who ended the call and why.
 *
 * @example
 * ```ts
 * const end = await call.ended;
 * if (end.reason === 'rejected') console.log(`refused with ${end.sipStatus}`);
 * ```
 * @packageDocumentation
 */
import type { SessionState } from 'sip.js';
import { SipwireError } from '../errors';
import type { MediaFailureReason } from '../sdh/session-description-handler';

/**
 * Where a call is: `new` (INVITE not yet sent or answered), `connecting`
 * (INVITE in progress), `established`, `ending` (BYE or CANCEL sent) and
 * `ended`.
 */
export type CallState = 'new' | 'connecting' | 'established' | 'ending' | 'ended';

/** Every transition a call may take; anything else is a bug and throws. */
export const CALL_TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  new: ['connecting', 'established', 'ending', 'ended'],
  connecting: ['established', 'ending', 'ended'],
  established: ['ending', 'ended'],
  ending: ['ended'],
  ended: [],
};

/** True when `from -> to` is in {@link CALL_TRANSITIONS}. */
export function canTransition(from: CallState, to: CallState): boolean {
  return CALL_TRANSITIONS[from].includes(to);
}

/**
 * The call state a SIP.js session state corresponds to. `SessionState`'s
 * values are typed from SIP.js (`sip.js` is not loaded at runtime here), so a
 * rename there fails this switch at compile time.
 */
export function callStateOf(s: `${SessionState}`): CallState {
  switch (s) {
    case 'Initial':
      return 'new';
    case 'Establishing':
      return 'connecting';
    case 'Established':
      return 'established';
    case 'Terminating':
      return 'ending';
    case 'Terminated':
      return 'ended';
  }
}

/**
 * Why a call ended:
 * - `bye`: a BYE (from `by`);
 * - `cancel`: the caller cancelled before the answer;
 * - `rejected`: the INVITE got a final error response (`sipStatus`: 404, 486, 603 ...);
 * - `no-answer`: nobody answered within the dial timeout (we sent CANCEL);
 * - `media-failed`: media failed (`mediaFailure` says how) and the call was hung up;
 * - `transport-failed`: the SIP transport failed or a request timed out (408/503 made up locally);
 * - `transferred`: the call was handed to someone else (REFER, or an INVITE with Replaces);
 * - `error`: user code in the incoming-call handler threw (see `serveCalls`).
 */
export type CallEndReason = 'bye' | 'cancel' | 'rejected' | 'no-answer' | 'media-failed' | 'transport-failed' | 'transferred' | 'error';

/** How a call ended: what {@link Call.ended} resolves with. */
export interface CallEnd {
  /** Which side ended it. */
  readonly by: 'local' | 'remote';
  readonly reason: CallEndReason;
  /** The final SIP status when one says why (a rejection, a CANCEL's 487, 408 ...). */
  readonly sipStatus?: number;
  /** For `media-failed`: what failed. */
  readonly mediaFailure?: MediaFailureReason;
}

/** Rejection of {@link Call.established} and `dial()` when the call ends first; carries the {@link CallEnd}. */
export class CallEndedError extends SipwireError {
  readonly end: CallEnd;
  /** The final SIP status, when the far end or a proxy refused the call. */
  readonly sipStatus: number | undefined;
  constructor(end: CallEnd) {
    const status = end.sipStatus === undefined ? '' : ` (${end.sipStatus})`;
    super('ERR_CALL_ENDED', `the call ended before it was established: ${end.by} ${end.reason}${status}`);
    this.end = end;
    this.sipStatus = end.sipStatus;
  }
}
