/**
 * Errors thrown by sipwire carry a stable `code` (for example `ERR_SDP_PARSE`,
 * `ERR_NO_COMMON_CODEC`, `ERR_UNSUPPORTED_PROFILE`, `ERR_INVALID_STATE`,
 * `ERR_CLOSED`) and a DOMException-style `name`.
 *
 * @example
 * ```ts
 * try { await pc.setRemoteDescription({ type: 'offer', sdp }); }
 * catch (e) { if (e instanceof SipwireError && e.code === 'ERR_NO_COMMON_CODEC') reply(488); }
 * ```
 * @packageDocumentation
 */

/** Stable error codes. */
export type SipwireErrorCode =
  | 'ERR_SDP_PARSE'
  | 'ERR_NO_COMMON_CODEC'
  | 'ERR_UNSUPPORTED_PROFILE'
  | 'ERR_NO_AUDIO'
  | 'ERR_SDP_TOO_LARGE'
  | 'ERR_SDP_TOO_MANY_SECTIONS'
  | 'ERR_INVALID_STATE'
  | 'ERR_CLOSED'
  | 'ERR_INVALID_ARG'
  | 'ERR_UNSUPPORTED'
  | 'ERR_IO'
  | 'ERR_WAV'
  | 'ERR_CODEC'
  | 'ERR_WEBRTC'
  | 'ERR_ABORTED'
  | 'ERR_CALL_ENDED'
  | 'ERR_TRANSFER_FAILED'
  | 'ERR_TIMEOUT'
  | 'ERR_INTERNAL';

const NAMES: Record<string, string> = {
  ERR_INVALID_STATE: 'InvalidStateError',
  ERR_CLOSED: 'InvalidStateError',
  ERR_SDP_PARSE: 'InvalidAccessError',
  ERR_NO_COMMON_CODEC: 'InvalidAccessError',
  ERR_UNSUPPORTED_PROFILE: 'InvalidAccessError',
  ERR_NO_AUDIO: 'InvalidAccessError',
  ERR_SDP_TOO_LARGE: 'InvalidAccessError',
  ERR_SDP_TOO_MANY_SECTIONS: 'InvalidAccessError',
  ERR_INVALID_ARG: 'TypeError',
  ERR_UNSUPPORTED: 'NotSupportedError',
  ERR_ABORTED: 'AbortError',
  ERR_CALL_ENDED: 'InvalidStateError',
  ERR_TIMEOUT: 'TimeoutError',
};

/** An error from sipwire, with a stable {@link SipwireError.code}. */
export class SipwireError extends Error {
  /** Stable machine-readable code. */
  readonly code: SipwireErrorCode;
  constructor(code: SipwireErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = NAMES[code] ?? 'OperationError';
  }
}

/** Turn a native error (message `"[CODE] text"`) into a {@link SipwireError}. */
export function fromNative(err: unknown): SipwireError {
  if (err instanceof SipwireError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const m = /^\[(ERR_[A-Z_]+)\] ([\s\S]*)$/.exec(msg);
  if (m) return new SipwireError(m[1] as SipwireErrorCode, m[2], { cause: err });
  return new SipwireError('ERR_INTERNAL', msg, { cause: err });
}

/** Call a native function, rethrowing its errors as {@link SipwireError}. */
export function callNative<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Await a native promise, rethrowing its rejection as {@link SipwireError}. */
export async function awaitNative<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw fromNative(e);
  }
}
