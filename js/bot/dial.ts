/**
 * Place a call and get it back established: the outgoing half of a bot, as
 * SIP.js's SimpleUser `call()` but resolving only once answered.
 *
 * @example
 * ```ts
 * try {
 *   const call = await dial(ua, 'sip:bob@example.com', { answerTimeoutMs: 30000 });
 *   await call.play('hello.wav');
 *   await call.hangup();
 * } catch (e) {
 *   if (e instanceof CallEndedError) console.log('not answered:', e.end.reason, e.sipStatus);
 * }
 * ```
 * @packageDocumentation
 */
import type { InviterInviteOptions, InviterOptions, URI, UserAgent } from 'sip.js';
import { Call, type CallOptions } from './call';
import { sipjs, toUri } from './sipjs';

/** Options of {@link dial}. */
export interface DialOptions extends CallOptions {
  /** Options of the SIP.js `Inviter` (extra headers, early media, SDH options). */
  inviterOptions?: InviterOptions;
  /** Options of its `invite()`. */
  inviteOptions?: InviterInviteOptions;
  /** Receives the call as soon as it exists, before the answer (to hang up early, watch `statechange` ...). */
  onCall?: (call: Call) => void;
}

/**
 * Call `target` (`sip:user@host`, a SIP.js `URI`, or a bare user at the user
 * agent's own domain). Resolves with the established {@link Call}; rejects
 * with a `CallEndedError` whose `sipStatus` says why when the call fails (404,
 * 486, 603 ..., `reason` `no-answer` after `answerTimeoutMs`, default 60 s).
 */
export async function dial(userAgent: UserAgent, target: string | URI, options: DialOptions = {}): Promise<Call> {
  const uri = toUri(target, userAgent.configuration.uri.host);
  const inviter = new (sipjs().Inviter)(userAgent, uri, options.inviterOptions);
  const call = new Call(inviter, { ...options, answerTimeoutMs: options.answerTimeoutMs ?? 60_000 });
  options.onCall?.(call);
  // A failed INVITE ends the call; its end (with the status) is what `established` rejects with.
  await inviter.invite(options.inviteOptions ?? {}).catch(() => undefined);
  await call.established;
  return call;
}
