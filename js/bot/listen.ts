/**
 * Listening helpers of {@link Call}: wait for a tone, for speech or for
 * silence, detect an answering machine, and forward the voice activity
 * detector's `speechstart` / `speechend` and the `beep` events to the call.
 * The detectors run in Rust on the media thread; JS only waits for their
 * events (one per utterance, tone or verdict), never for audio frames.
 *
 * @example
 * ```ts
 * const verdict = await call.detectAnsweringMachine({ timeoutMs: 5000 });
 * if (verdict === 'machine') {
 *   await call.listen({ beep: true });
 *   call.addEventListener('beep', () => void call.play('message.wav'), { once: true });
 * }
 * ```
 * @packageDocumentation
 */
import { SipwireError } from '../errors';
import { BeepEvent, SpeechEndEvent } from '../peer-connection';
import type { AnsweringMachineOptions, AnsweringMachineResult, ListeningOptions, RTCPeerConnection, WaitForToneOptions } from '../peer-connection';

/** The listening events a {@link Call} dispatches once asked for (see {@link CallListening.listen}). */
export interface CallListenEventMap {
  /** The far end started speaking. */
  speechstart: Event;
  /** The far end stopped speaking ({@link SpeechEndEvent.durationMs}). */
  speechend: SpeechEndEvent;
  /** A voicemail-style beep (steady 400-2000 Hz tone of 120 ms or more). */
  beep: BeepEvent;
}

/** Options of {@link CallListening.waitForSpeech}. */
export interface WaitForSpeechOptions {
  /** Reject with `ERR_TIMEOUT` after this long. @defaultValue 10000 */
  timeoutMs?: number;
}

/** Options of {@link CallListening.waitForSilence}. */
export interface WaitForSilenceOptions {
  /** Reject with `ERR_TIMEOUT` if the silence has not come after this long. @defaultValue 30000 */
  timeoutMs?: number;
}

export type { AnsweringMachineOptions, AnsweringMachineResult, ListeningOptions, WaitForToneOptions };

const clampMs = (ms: number, fallback: number): number => (Number.isFinite(ms) ? Math.max(0, Math.min(ms, 2 ** 31 - 1)) : fallback);

/**
 * The listening side of one call. {@link Call} creates it on first use and
 * delegates to it; it talks to the call's {@link RTCPeerConnection}.
 */
export class CallListening {
  readonly #call: EventTarget;
  readonly #pc: () => Promise<RTCPeerConnection>;
  readonly #ended: Promise<unknown>;
  #speech: Promise<RTCPeerConnection> | undefined;
  #beep: Promise<RTCPeerConnection> | undefined;
  #speaking = false;
  #over = false;

  constructor(call: EventTarget, pc: () => Promise<RTCPeerConnection>, ended: Promise<unknown>) {
    this.#call = call;
    this.#pc = pc;
    this.#ended = ended;
    void ended.then(() => (this.#over = true));
  }

  /** Turn detectors on (or off) and forward their events to the call: `speech` → `speechstart`/`speechend`, `beep` → `beep`. */
  async listen(options: ListeningOptions): Promise<void> {
    if (options.speech) await this.#speechOn();
    if (options.beep) await this.#beepOn();
    if (options.inbandDtmf !== undefined) (await this.#pc()).setListening({ inbandDtmf: options.inbandDtmf });
    if (options.speech === false || options.beep === false) {
      const pc = await this.#pc();
      pc.setListening({ speech: options.speech === false ? false : undefined, beep: options.beep === false ? false : undefined });
      if (options.speech === false) this.#speech = undefined;
      if (options.beep === false) this.#beep = undefined;
    }
  }

  #speechOn(): Promise<RTCPeerConnection> {
    this.#speech ??= this.#pc().then((pc) => {
      pc.addEventListener('speechstart', () => {
        this.#speaking = true;
        this.#call.dispatchEvent(new Event('speechstart'));
      });
      pc.addEventListener('speechend', (e) => {
        this.#speaking = false;
        this.#call.dispatchEvent(new SpeechEndEvent(e.durationMs));
      });
      pc.setListening({ speech: true });
      return pc;
    });
    return this.#speech;
  }

  #beepOn(): Promise<RTCPeerConnection> {
    this.#beep ??= this.#pc().then((pc) => {
      pc.addEventListener('beep', (e) => this.#call.dispatchEvent(new BeepEvent(e.hz)));
      pc.setListening({ beep: true });
      return pc;
    });
    return this.#beep;
  }

  /** See {@link RTCPeerConnection.waitForTone}. */
  async waitForTone(hz: number, options: WaitForToneOptions = {}): Promise<{ hz: number }> {
    return (await this.#pc()).waitForTone(hz, options);
  }

  /** See {@link RTCPeerConnection.detectAnsweringMachine}. */
  async detectAnsweringMachine(options: AnsweringMachineOptions = {}): Promise<AnsweringMachineResult> {
    return (await this.#pc()).detectAnsweringMachine(options);
  }

  /** Resolve when the far end is speaking (at once if it already is). */
  async waitForSpeech(options: WaitForSpeechOptions = {}): Promise<void> {
    await this.#speechOn();
    if (this.#speaking) return;
    const timeoutMs = clampMs(options.timeoutMs ?? 10000, 10000);
    await this.#wait(timeoutMs, `no speech within ${timeoutMs} ms`, (done) => {
      const on = (): void => done();
      this.#call.addEventListener('speechstart', on);
      return () => this.#call.removeEventListener('speechstart', on);
    });
  }

  /**
   * Resolve once the far end has been silent for `ms` (counted from the
   * voice activity detector's end of speech, which itself follows the last
   * sound by a 300 ms hangover; at once-plus-`ms` if nobody is speaking).
   */
  async waitForSilence(ms: number, options: WaitForSilenceOptions = {}): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new SipwireError('ERR_INVALID_ARG', `silence must be a duration in ms, got ${ms}`);
    await this.#speechOn();
    const timeoutMs = clampMs(options.timeoutMs ?? 30000, 30000);
    await this.#wait(timeoutMs, `no ${ms} ms of silence within ${timeoutMs} ms`, (done) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(done, clampMs(ms, 0));
      };
      const disarm = (): void => clearTimeout(timer);
      this.#call.addEventListener('speechstart', disarm);
      this.#call.addEventListener('speechend', arm);
      if (!this.#speaking) arm();
      return () => {
        clearTimeout(timer);
        this.#call.removeEventListener('speechstart', disarm);
        this.#call.removeEventListener('speechend', arm);
      };
    });
  }

  /** Settle when `setup`'s `done` is called, after `timeoutMs` (reject), or when the call ends (reject). */
  #wait(timeoutMs: number, timeoutMessage: string, setup: (done: () => void) => () => void): Promise<void> {
    if (this.#over) return Promise.reject(new SipwireError('ERR_CLOSED', 'the call has ended'));
    return new Promise<void>((resolve, reject) => {
      let cleanup = (): void => {};
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        cleanup();
        cleanup = () => {};
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => finish(new SipwireError('ERR_TIMEOUT', timeoutMessage)), timeoutMs);
      void this.#ended.then(() => finish(new SipwireError('ERR_CLOSED', 'the call has ended')));
      cleanup = setup(() => finish());
    });
  }
}
