/**
 * Digit collection for IVRs (Twilio's `<Gather>`, drachtio's `playCollect`):
 * gather DTMF until a count, a terminator, a timeout or the end of the call.
 * Every digit source of a call (RFC 4733, SIP INFO, in-band) arrives through
 * its one `dtmf` event, so each digit is counted once.
 *
 * @example
 * ```ts
 * const { digits, reason } = await call.collectDigits({ max: 4, terminators: '#', interDigitTimeoutMs: 3000 });
 * ```
 * @packageDocumentation
 */
import { SipwireError } from '../errors';

/** Options of `call.collectDigits()` and `call.playAndCollect()`. */
export interface CollectDigitsOptions {
  /** Stop once this many digits were collected (terminators not counted). @defaultValue no limit */
  max?: number;
  /** Limit for the whole collection, in ms from its start (for `playAndCollect`, from the prompt's end). `0` = none. @defaultValue 10000 */
  timeoutMs?: number;
  /** Limit between two digits, in ms, from the first digit on. `0` = none. @defaultValue 3000 */
  interDigitTimeoutMs?: number;
  /** Digits that end the collection; they are not part of `digits`. `''` = none. @defaultValue '#' */
  terminators?: string;
}

/** Why a digit collection stopped. `ended`: the call ended. */
export type CollectDigitsReason = 'max' | 'terminator' | 'timeout' | 'interDigitTimeout' | 'ended';

/** What `call.collectDigits()` resolves with. */
export interface CollectDigitsResult {
  /** The digits, in the order they arrived. */
  digits: string;
  reason: CollectDigitsReason;
  /** The terminator pressed, when `reason` is `terminator`. */
  terminator?: string;
}

const DTMF = /^[0-9A-D#*]*$/;
const MAX_TIMER = 2 ** 31 - 1;

function checkMs(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_TIMER) {
    throw new SipwireError('ERR_INVALID_ARG', `${name} must be a number of ms between 0 and ${MAX_TIMER}, got ${String(v)}`);
  }
  return v;
}

/** Validated options with their defaults. */
export function digitOptions(o: CollectDigitsOptions): Required<CollectDigitsOptions> {
  const max = o.max ?? Infinity;
  if (max !== Infinity && (!Number.isInteger(max) || max < 1)) throw new SipwireError('ERR_INVALID_ARG', `max must be a positive integer, got ${String(o.max)}`);
  if (o.terminators !== undefined && typeof o.terminators !== 'string') throw new SipwireError('ERR_INVALID_ARG', 'terminators must be a string');
  const terminators = (o.terminators ?? '#').toUpperCase();
  if (!DTMF.test(terminators)) throw new SipwireError('ERR_INVALID_ARG', `terminators must be DTMF digits (0-9, A-D, #, *), got ${JSON.stringify(o.terminators)}`);
  return {
    max,
    terminators,
    timeoutMs: checkMs('timeoutMs', o.timeoutMs, 10_000),
    interDigitTimeoutMs: checkMs('interDigitTimeoutMs', o.interDigitTimeoutMs, 3000),
  };
}

/**
 * One collection. Digits count from construction; the timers run from
 * {@link arm} (a prompt plays first). Settles once, and then unsubscribes.
 */
export class DigitCollector {
  readonly result: Promise<CollectDigitsResult>;
  /** Called with each digit before it is counted (barge-in stops the prompt here). */
  onDigit: ((digit: string) => void) | undefined;
  readonly #o: Required<CollectDigitsOptions>;
  #digits = '';
  #armed = false;
  #done = false;
  #overall: NodeJS.Timeout | undefined;
  #gap: NodeJS.Timeout | undefined;
  #settle!: (r: CollectDigitsResult) => void;
  readonly #unsubscribe: () => void;

  /**
   * @param subscribe - registers a digit listener and returns its unsubscribe.
   * @param ended - settles when the call ends.
   */
  constructor(options: CollectDigitsOptions, subscribe: (onDigit: (digit: string) => void) => () => void, ended: Promise<unknown>) {
    this.#o = digitOptions(options);
    this.result = new Promise((resolve) => (this.#settle = resolve));
    this.#unsubscribe = subscribe((d) => this.#digit(d));
    void ended.then(() => this.#finish('ended'));
  }

  /** Start the timers. */
  arm(): void {
    if (this.#armed || this.#done) return;
    this.#armed = true;
    if (this.#o.timeoutMs > 0) this.#overall = setTimeout(() => this.#finish('timeout'), this.#o.timeoutMs);
    if (this.#digits) this.#restartGap();
  }

  #restartGap(): void {
    clearTimeout(this.#gap);
    if (this.#o.interDigitTimeoutMs > 0) this.#gap = setTimeout(() => this.#finish('interDigitTimeout'), this.#o.interDigitTimeoutMs);
  }

  #digit(digit: string): void {
    if (this.#done) return;
    const d = digit.toUpperCase();
    this.onDigit?.(d);
    if (this.#o.terminators.includes(d)) return this.#finish('terminator', d);
    this.#digits += d;
    if (this.#digits.length >= this.#o.max) return this.#finish('max');
    if (this.#armed) this.#restartGap();
  }

  #finish(reason: CollectDigitsReason, terminator?: string): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#overall);
    clearTimeout(this.#gap);
    this.#unsubscribe();
    this.#settle(terminator === undefined ? { digits: this.#digits, reason } : { digits: this.#digits, reason, terminator });
  }
}
