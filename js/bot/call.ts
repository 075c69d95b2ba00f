/**
 * The bot-facing call API: one object per SIP.js `Session`, so a bot never
 * reaches into SIP.js or SDH internals. Media runs in Rust; a bot that only
 * plays and records never touches a sample.
 *
 * A call has one explicit state ({@link CallState}, moved only along
 * {@link CALL_TRANSITIONS}); `established` and `ended` are promises; signaling
 * operations (hold, unhold, transfer, DTMF by INFO) run one at a time in call
 * order; and every waiter settles when the call ends, even a call that ends
 * before its media exists.
 *
 * @example
 * ```ts
 * ua.delegate = { onInvite: async (invitation) => {
 *   const call = await answerCall(invitation);       // 488 if the offer is unusable
 *   const { digits } = await call.playAndCollect('menu.wav', { max: 1 });
 *   if (digits === '2') await call.transfer('sip:agent@example.com');
 *   else await call.hangup();
 * } };
 * ```
 * @packageDocumentation
 */
import type {
  Core,
  Invitation,
  Inviter,
  InviterInviteOptions,
  Referral,
  Session,
  SessionDescriptionHandlerOptions as SipSdhOptions,
  URI,
} from 'sip.js';
import { SipwireError } from '../errors';
import type { AudioBridge, AudioFrame, CodecName, PlayOptions, PlayResult, PlaySource, RecordingOptions, RTCDTMFToneChangeEvent, RTCPeerConnection, VideoConfiguration } from '../peer-connection';
import type { SessionDescriptionHandlerOptions } from '../sdh/session-description-handler-options';
import { SessionDescriptionHandler, type MediaFailureReason } from '../sdh/session-description-handler';
import { validateOffer } from '../audio';
import { effectivePeerConnectionConfiguration } from '../sdh/session-description-handler-factory';
import { TypedEventTarget } from '../typed-event-target';
import { streamAudio, type AudioStream, type StreamOptions, type StreamSocket } from '../stream';
import { CallEndedError, callStateOf, canTransition, type CallEnd, type CallState } from './call-state';
import { DigitCollector, type CollectDigitsOptions, type CollectDigitsResult } from './digits';
import { ReferEvent, referOutcome, TransferFailedError, type ReferAcceptOptions, type TransferOptions } from './transfer';
import { toUri } from './sipjs';
import { CallListening, type CallListenEventMap, type WaitForSilenceOptions, type WaitForSpeechOptions } from './listen';
import type { AnsweringMachineOptions, AnsweringMachineResult, ListeningOptions, WaitForToneOptions } from '../peer-connection';

/** How a digit travelled: RFC 4733 in RTP, a SIP INFO (`application/dtmf-relay` or `application/dtmf`), or tones in the audio (detected in Rust). */
export type DtmfMethod = 'rfc4733' | 'info' | 'inband';

/** A received DTMF digit. */
export class DtmfCallEvent extends Event {
  constructor(
    readonly digit: string,
    readonly method: DtmfMethod,
  ) {
    super('dtmf');
  }
}

/** Media failed (ICE/DTLS failure or no RTP); the call hangs up unless told not to. */
export class CallMediaFailedEvent extends Event {
  constructor(readonly reason: MediaFailureReason) {
    super('mediafailed');
  }
}

/** The call moved to another {@link CallState}. */
export class CallStateChangeEvent extends Event {
  constructor(
    readonly state: CallState,
    readonly previous: CallState,
  ) {
    super('statechange');
  }
}

/** The call ended; `end` says how (the same value {@link Call.ended} resolves with). */
export class CallEndedEvent extends Event {
  constructor(readonly end: CallEnd) {
    super('ended');
  }
}

/** Records why a call is ending, for the bot's own helpers (`serveCalls`); not exported from the package. */
export const endCause: unique symbol = Symbol('endCause');

/** How long a call whose media failed waits for the far end's BYE before sending its own. */
const REMOTE_CLOSE_GRACE_MS = 500;
/** RFC 3261 §14.1 glare back-off bounds (ms) for the Call-ID owner and the other side. */
const GLARE_OWNER_MS: [number, number] = [2100, 4000];
const GLARE_OTHER_MS: [number, number] = [0, 2000];

/** Every event a {@link Call} dispatches, by type. */
export interface CallEventMap extends CallListenEventMap {
  dtmf: DtmfCallEvent;
  established: Event;
  mediafailed: CallMediaFailedEvent;
  ended: CallEndedEvent;
  statechange: CallStateChangeEvent;
  refer: ReferEvent;
}

/** Options of {@link Call}. */
export interface CallOptions {
  /** Send BYE when media fails. @defaultValue true */
  hangupOnMediaFailure?: boolean;
  /** Retries of a hold/unhold re-INVITE answered 491 (RFC 3261 §14.1). @defaultValue 3 */
  glareRetries?: number;
  /**
   * Outgoing calls: CANCEL when not answered within this many ms (the call
   * ends with reason `no-answer`). `0` = wait for the far end. @defaultValue 0
   */
  answerTimeoutMs?: number;
}

/** Options of {@link Call.playAndCollect}. */
export interface PlayAndCollectOptions extends CollectDigitsOptions {
  /** Stop the prompt at the first digit. @defaultValue true */
  bargeIn?: boolean;
  /** Options for playing the prompt. */
  play?: PlayOptions;
}

/** What {@link Call.playAndCollect} resolves with. */
export interface PlayAndCollectResult extends CollectDigitsResult {
  /** True when a digit cut the prompt short. */
  bargedIn: boolean;
}

function isInviter(s: Session): s is Inviter {
  return 'cancel' in s && typeof s.cancel === 'function';
}

function isInvitation(s: Session): s is Invitation {
  return 'reject' in s && typeof s.reject === 'function';
}

/** SIP.js makes up 408 (timer B) and 503 (transport error) locally; such a response has no Via. */
function isLocalResponse(r: Core.IncomingResponse): boolean {
  return r.message.getHeader('Via') === undefined;
}

/** A digit from a SIP INFO body, or undefined when the body carries none. */
export function infoDigit(contentType: string, body: string): string | undefined {
  if (/^\s*application\/dtmf-relay\s*(;|$)/i.test(contentType)) {
    const m = /^\s*Signal\s*=\s*([0-9A-D#*]|1[0-5])\s*$/im.exec(body);
    if (!m) return undefined;
    const s = m[1].toUpperCase();
    // Some devices send the RFC 4733 event number for * # A-D.
    return s.length === 2 ? '*#ABCD'[Number(s) - 10] : s;
  }
  if (/^\s*application\/dtmf\s*(;|$)/i.test(contentType)) {
    const m = /^\s*([0-9A-D#*])\s*$/i.exec(body);
    return m ? m[1].toUpperCase() : undefined;
  }
  return undefined;
}

/**
 * One SIP call with media. Events ({@link CallEventMap}): `dtmf`
 * ({@link DtmfCallEvent}, RFC 4733 and SIP INFO alike, each digit once),
 * `established`, `statechange`, `mediafailed` ({@link CallMediaFailedEvent}),
 * `refer` ({@link ReferEvent}) and `ended` ({@link CallEndedEvent}).
 */
export class Call extends TypedEventTarget<CallEventMap> {
  readonly session: Session;
  readonly #options: Required<CallOptions>;
  #state: CallState;
  #held = false;
  /** Why the call is ending, once known; the first cause recorded wins. */
  #cause: CallEnd | undefined;
  readonly #ended: Promise<CallEnd>;
  #resolveEnded!: (end: CallEnd) => void;
  readonly #established: Promise<void>;
  #settleEstablished!: { resolve: () => void; reject: (e: Error) => void };
  #sdhWaiters: Array<{ resolve: (sdh: SessionDescriptionHandler) => void; reject: (e: Error) => void }> = [];
  /** Tail of the operation queue. */
  #tail: Promise<unknown> = Promise.resolve();
  #answerTimer: NodeJS.Timeout | undefined;
  /** True once `ended` settled: no cause is recorded after that. */
  #finished = false;
  /** Whether the call was ever answered (for an end nobody explained). */
  #wasEstablished = false;
  /** Re-INVITEs of ours waiting for the ACK of the far end's re-INVITE. */
  #ackWaiters: Array<() => void> = [];
  /** SDHs whose events this call already forwards (each digit once). */
  readonly #attached = new WeakSet<SessionDescriptionHandler>();

  constructor(session: Session, options: CallOptions = {}) {
    super();
    this.session = session;
    this.#options = {
      hangupOnMediaFailure: options.hangupOnMediaFailure ?? true,
      glareRetries: options.glareRetries ?? 3,
      answerTimeoutMs: options.answerTimeoutMs ?? 0,
    };
    this.#state = callStateOf(session.state);
    this.#ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#established = new Promise<void>((resolve, reject) => (this.#settleEstablished = { resolve, reject }));
    // Nobody has to await `established`: an unawaited rejection must not crash the process.
    this.#established.catch(() => undefined);
    this.#installDelegate();
    if (isInviter(session)) this.#watchInitialInvite(session);
    session.stateChange.addListener(this.#onSessionState);
    const existing = session.sessionDescriptionHandler;
    if (existing instanceof SessionDescriptionHandler) this.#attach(existing);
    this.#wasEstablished = this.#state === 'established';
    if (this.#state === 'established') this.#settleEstablished.resolve();
    if (this.#state === 'connecting') this.#armAnswerTimer();
    if (this.#state === 'ended') this.#onEnded();
  }

  #installDelegate(): void {
    const delegate = this.session.delegate ?? {};
    this.session.delegate = {
      ...delegate,
      onSessionDescriptionHandler: (sdh, provisional) => {
        if (sdh instanceof SessionDescriptionHandler) this.#attach(sdh);
        delegate.onSessionDescriptionHandler?.(sdh, provisional);
      },
      onInfo: (info) => {
        const digit = infoDigit(String(info.request.getHeader('Content-Type') ?? ''), info.request.body ?? '');
        if (digit !== undefined) {
          void info.accept();
          this.dispatchEvent(new DtmfCallEvent(digit, 'info'));
        } else if (delegate.onInfo) delegate.onInfo(info);
        else void info.reject({ statusCode: 415 });
      },
      onBye: (bye) => {
        this.#noteCause({ by: 'remote', reason: 'bye' });
        if (delegate.onBye) delegate.onBye(bye);
        else void bye.accept();
      },
      onCancel: (cancel) => {
        this.#noteCause({ by: 'remote', reason: 'cancel', sipStatus: 487 });
        delegate.onCancel?.(cancel);
      },
      onRefer: (referral) => this.#onRefer(referral),
      onAck: (ack) => {
        for (const w of this.#ackWaiters.splice(0)) w();
        delegate.onAck?.(ack);
      },
    };
  }

  /**
   * The response to an outgoing call's INVITE says why it failed; SIP.js only
   * moves to Terminated. Wrap this inviter's `invite()` so the first one
   * (whoever calls it) reports its final response here.
   */
  #watchInitialInvite(inviter: Inviter): void {
    const invite = inviter.invite.bind(inviter);
    inviter.invite = (options: InviterInviteOptions = {}) => {
      if (callStateOf(inviter.state) !== 'new') return invite(options);
      const theirs = options.requestDelegate;
      const sent = invite({
        ...options,
        requestDelegate: {
          ...theirs,
          onReject: (r) => {
            this.#onInviteRejected(r);
            theirs?.onReject?.(r);
          },
          onRedirect: (r) => {
            this.#noteCause({ by: 'remote', reason: 'rejected', sipStatus: r.message.statusCode });
            theirs?.onRedirect?.(r);
          },
        },
      });
      // An INVITE that could not even be built (no offer) fails the media.
      sent.catch(() => this.#noteCause({ by: 'local', reason: 'media-failed' }));
      return sent;
    };
  }

  #onInviteRejected(r: Core.IncomingResponse): void {
    const status = r.message.statusCode;
    if (isLocalResponse(r)) this.#noteCause({ by: 'local', reason: 'transport-failed', sipStatus: status });
    // After our CANCEL the 487 confirms it: the cause is already recorded.
    else this.#noteCause({ by: 'remote', reason: 'rejected', sipStatus: status });
  }

  /** @internal */
  [endCause](end: CallEnd): void {
    this.#noteCause(end);
  }

  #noteCause(end: CallEnd): void {
    if (!this.#cause && !this.#finished) this.#cause = end;
  }

  #onSessionState = (s: Session['state']): void => {
    const next = callStateOf(s);
    const previous = this.#state;
    if (next === previous) return;
    // SIP.js's own machine only takes these steps; a step outside the table
    // (never seen) is ignored rather than thrown into SIP.js's emitter. Every
    // state can reach `ended`, so no waiter is stranded by it.
    if (!canTransition(previous, next)) return;
    this.#state = next;
    this.dispatchEvent(new CallStateChangeEvent(next, previous));
    if (next === 'connecting') this.#armAnswerTimer();
    if (next === 'established') {
      this.#wasEstablished = true;
      clearTimeout(this.#answerTimer);
      this.#settleEstablished.resolve();
      this.dispatchEvent(new Event('established'));
    }
    // SIP.js moves to Terminated before it hands the final response to the
    // request delegate (which records a rejection's status): settle a moment later.
    if (next === 'ended') queueMicrotask(() => this.#onEnded());
  };

  #onEnded(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.session.stateChange.removeListener(this.#onSessionState);
    clearTimeout(this.#answerTimer);
    // No cause seen (the session was ended through SIP.js directly): say what
    // ending it from where it was means.
    const fallback: CallEnd = this.#wasEstablished
      ? { by: 'local', reason: 'bye' }
      : isInvitation(this.session)
        ? { by: 'local', reason: 'rejected' }
        : { by: 'local', reason: 'cancel' };
    const end = this.#cause ?? fallback;
    this.#cause = end;
    this.#settleEstablished.reject(new CallEndedError(end));
    const closed = new SipwireError('ERR_CLOSED', 'the call has ended');
    for (const w of this.#sdhWaiters.splice(0)) w.reject(closed);
    this.dispatchEvent(new CallEndedEvent(end));
    this.#resolveEnded(end);
  }

  #armAnswerTimer(): void {
    const ms = this.#options.answerTimeoutMs;
    if (ms <= 0 || !isInviter(this.session) || this.#answerTimer) return;
    this.#answerTimer = setTimeout(() => {
      if (this.#state !== 'connecting') return;
      this.#noteCause({ by: 'local', reason: 'no-answer' });
      void this.hangup().catch(() => undefined);
    }, ms);
  }

  #attach(sdh: SessionDescriptionHandler): void {
    if (this.#attached.has(sdh)) return;
    this.#attached.add(sdh);
    sdh.addEventListener('dtmf', (e) => this.dispatchEvent(new DtmfCallEvent(e.digit, e.method)));
    sdh.addEventListener('mediafailed', (e) => {
      const reason = e.reason;
      this.dispatchEvent(new CallMediaFailedEvent(reason));
      if (!this.#options.hangupOnMediaFailure) return;
      // A far end that hangs up sends its BYE through the proxy while its
      // DTLS close_notify comes straight here, usually first (and the close
      // may surface as `connection-failed` when the transport's failure beats
      // the coded warning): give a BYE a moment so the two do not cross (our
      // BYE would draw a 481 and the call's end would read as a media failure).
      const grace = setTimeout(() => {
        this.#noteCause({ by: 'local', reason: 'media-failed', mediaFailure: reason });
        void this.hangup().catch(() => undefined);
      }, REMOTE_CLOSE_GRACE_MS);
      void this.#ended.then(() => clearTimeout(grace));
    });
    for (const w of this.#sdhWaiters.splice(0)) w.resolve(sdh);
  }

  #onRefer(referral: Referral): void {
    const event = new ReferEvent(referral, (options) => this.#followRefer(referral, options));
    this.dispatchEvent(event);
    if (!event.answered && !event.defaultPrevented) void event.reject(603).catch(() => undefined);
  }

  async #followRefer(referral: Referral, options: ReferAcceptOptions): Promise<Call> {
    const inviter = referral.makeInviter(options.inviterOptions);
    const call = new Call(inviter, options);
    await inviter.invite(options.inviteOptions ?? {}).catch(() => undefined); // the failure is the call's end
    await call.established;
    return call;
  }

  /** Where the call is now. */
  get state(): CallState {
    return this.#state;
  }

  /** The current SDH (the session may have several early ones; this is the adopted one). */
  get sessionDescriptionHandler(): SessionDescriptionHandler | undefined {
    const sdh = this.session.sessionDescriptionHandler;
    return sdh instanceof SessionDescriptionHandler ? sdh : undefined;
  }

  /** The native connection of the current SDH. */
  get peerConnection(): RTCPeerConnection | undefined {
    return this.sessionDescriptionHandler?.peerConnection;
  }

  /**
   * Resolves once the call is established (answered); rejects with a
   * {@link CallEndedError} (carrying the {@link CallEnd}, e.g. `sipStatus`
   * 486) when it ends first.
   */
  get established(): Promise<void> {
    return this.#established;
  }

  /** Resolves with how the call ended (BYE, CANCEL, rejection, no answer, failure); never rejects. */
  get ended(): Promise<CallEnd> {
    return this.#ended;
  }

  /** True while our side holds the call: set once the far end accepted the hold, not before. */
  get held(): boolean {
    return this.#held;
  }

  /** @internal The connection a bridge joins. */
  pcForBridge(): Promise<RTCPeerConnection> {
    return this.#pc();
  }

  /** Run `op` after every operation queued before it; rejects with ERR_CLOSED if the call ends first. */
  #enqueue<T>(name: string, op: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#state === 'ended') throw new SipwireError('ERR_CLOSED', `${name}: the call has ended`);
      return this.#untilEnded(name, op()).catch((e: unknown) => {
        // An operation cut short by the end of the call (its SDH closed under it) says so.
        if (this.#state === 'ended' && !(e instanceof SipwireError && e.code === 'ERR_CLOSED')) {
          throw new SipwireError('ERR_CLOSED', `${name}: the call ended`, { cause: e });
        }
        throw e;
      });
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** `p`, or ERR_CLOSED when the call ends first (SIP.js drops the responses of a dead dialog). */
  #untilEnded<T>(name: string, p: Promise<T>): Promise<T> {
    return Promise.race([
      p,
      this.#ended.then((): never => {
        throw new SipwireError('ERR_CLOSED', `${name}: the call ended`);
      }),
    ]);
  }

  async #pc(): Promise<RTCPeerConnection> {
    if (this.#state === 'ended') throw new SipwireError('ERR_CLOSED', 'the call has ended');
    const sdh = this.sessionDescriptionHandler ?? (await new Promise<SessionDescriptionHandler>((resolve, reject) => this.#sdhWaiters.push({ resolve, reject })));
    const pc = sdh.peerConnection;
    if (!pc) throw new SipwireError('ERR_CLOSED', 'the call has no media');
    return pc;
  }

  /** Play a WAV file or PCM to the caller; resolves when played (or stopped). `loop` repeats it until stopPlayback(). */
  async play(source: PlaySource, options?: PlayOptions): Promise<PlayResult> {
    return (await this.#pc()).play(source, options);
  }

  /** Stop playback. */
  stopPlayback(): void {
    this.peerConnection?.stopPlayback();
  }

  /**
   * Record the call to a WAV file until {@link stopRecording} or hangup: what the far end sends
   * (`channels: 'rx'`, the default), what we send (`'tx'`), both as stereo (far end left, us
   * right, time-aligned) or both mixed.
   */
  async record(path: string, options?: RecordingOptions): Promise<void> {
    await (await this.#pc()).startRecording(path, options);
  }

  /** Finish the recording; resolves with the file's duration in ms. */
  async stopRecording(): Promise<number> {
    return (await this.peerConnection?.stopRecording()) ?? 0;
  }

  /**
   * Stream the call's audio to a WebSocket server and play what it sends back (Twilio Media
   * Streams / jambonz `listen` style): see {@link streamAudio} for framing, marks, back-pressure
   * and reconnect. Digits the caller presses are sent as `{"event":"dtmf","digit"}`. The stream
   * ends with the call.
   */
  async stream(target: string | StreamSocket, options?: StreamOptions): Promise<AudioStream> {
    const s = streamAudio(await this.#pc(), target, options);
    const onDtmf = (e: DtmfCallEvent) => s.send({ event: 'dtmf', streamId: s.streamId, digit: e.digit });
    this.addEventListener('dtmf', onDtmf);
    void this.#ended.then(() => s.stop());
    void s.closed.then(() => this.removeEventListener('dtmf', onDtmf));
    return s;
  }

  /**
   * Connect this call's audio with `other`'s in Rust (a B2BUA): see {@link bridge}.
   */
  async bridge(other: Call): Promise<CallBridge> {
    return bridge(this, other);
  }

  /**
   * Record the far end's video (IVF for VP8, Annex B for H.264) until
   * {@link stopVideoRecording} or hangup. The call must have video enabled
   * (`video` in the answer/invite options, or in the peer configuration).
   */
  async recordVideo(path: string): Promise<void> {
    await (await this.#pc()).startVideoRecording(path);
  }

  /** Finish the video recording. */
  async stopVideoRecording(): Promise<void> {
    await this.peerConnection?.stopVideoRecording();
  }

  /**
   * Send a video clip (IVF of VP8, or H.264 Annex B) to the far end without
   * transcoding, paced by its timestamps (`fps` for Annex B, default 30); see
   * {@link RTCPeerConnection.playVideo}. The call needs video with
   * `direction: 'sendrecv'` (or `'sendonly'`). Resolves when the clip ended
   * (`stopped: false`) or was stopped (by {@link stopVideo} or hangup).
   */
  async playVideo(path: string, options?: { loop?: boolean; fps?: number }): Promise<{ stopped: boolean }> {
    return (await this.#pc()).playVideo(path, options);
  }

  /** Stop the clip {@link playVideo} sends. */
  stopVideo(): void {
    this.peerConnection?.stopVideo();
  }

  /** Received audio as an async iterator of PCM batches. */
  async *audio(options?: { sampleRate?: 8000 | 16000 | 48000; batchMs?: number }): AsyncGenerator<AudioFrame> {
    yield* (await this.#pc()).audio(options);
  }

  /**
   * Collect DTMF digits (RFC 4733, SIP INFO: every `dtmf` event) until `max`
   * digits, a terminator, a timeout or the end of the call; resolves with the
   * digits and why collection stopped, never rejects once started. Digits that
   * arrived before the call are not counted.
   *
   * @example
   * ```ts
   * const { digits, reason } = await call.collectDigits({ max: 4, terminators: '#', timeoutMs: 10000, interDigitTimeoutMs: 3000 });
   * ```
   */
  collectDigits(options: CollectDigitsOptions = {}): Promise<CollectDigitsResult> {
    const c = this.#collector(options);
    c.arm();
    return c.result;
  }

  #collector(options: CollectDigitsOptions): DigitCollector {
    return new DigitCollector(
      options,
      (onDigit) => {
        const l = (e: DtmfCallEvent): void => onDigit(e.digit);
        this.addEventListener('dtmf', l);
        return () => this.removeEventListener('dtmf', l);
      },
      this.#ended,
    );
  }

  /**
   * Play a prompt and collect digits: the first digit stops the prompt
   * (barge-in) and counts; the timers start when the prompt ends. Resolves as
   * {@link collectDigits} does, plus `bargedIn`.
   *
   * @example
   * ```ts
   * const { digits } = await call.playAndCollect('menu.wav', { max: 1, timeoutMs: 5000 });
   * ```
   */
  async playAndCollect(prompt: PlaySource, options: PlayAndCollectOptions = {}): Promise<PlayAndCollectResult> {
    const collector = this.#collector(options);
    let bargedIn = false;
    let playing = true;
    if (options.bargeIn ?? true) {
      collector.onDigit = () => {
        if (!playing || bargedIn) return;
        bargedIn = true;
        this.stopPlayback();
      };
    }
    try {
      await this.play(prompt, options.play);
    } catch (e) {
      if (this.#state !== 'ended') throw e;
    } finally {
      playing = false;
    }
    collector.arm();
    return { ...(await collector.result), bargedIn };
  }

  /**
   * Send DTMF by RFC 4733 (default) or SIP INFO (`application/dtmf-relay`,
   * one INFO per digit, in order, queued with the call's other operations).
   * Resolves when every digit has been sent.
   */
  async sendDtmf(tones: string, options: { method?: DtmfMethod; duration?: number; interToneGap?: number } = {}): Promise<void> {
    if (!/^[0-9A-D#*,]+$/i.test(tones)) throw new SipwireError('ERR_INVALID_ARG', `invalid DTMF tones ${JSON.stringify(tones)}`);
    if ((options.method ?? 'rfc4733') === 'rfc4733') {
      const pc = await this.#pc();
      const sent = new Promise<void>((resolve) => {
        const done = (e: RTCDTMFToneChangeEvent): void => {
          if (e.tone !== '') return;
          pc.removeEventListener('tonechange', done);
          resolve();
        };
        pc.addEventListener('tonechange', done);
        void this.#ended.then(() => (pc.removeEventListener('tonechange', done), resolve()));
      });
      await pc.sendDtmf(tones, options);
      await sent;
      return;
    }
    const duration = options.duration ?? 100;
    await this.#enqueue('sendDtmf', async () => {
      for (const digit of tones.toUpperCase()) {
        if (digit === ',') {
          await new Promise((r) => setTimeout(r, 2000));
          continue;
        }
        await new Promise<void>((resolve, reject) => {
          this.session
            .info({
              requestOptions: {
                body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: `Signal=${digit}\r\nDuration=${duration}` },
              },
              requestDelegate: {
                onAccept: () => resolve(),
                onReject: (r) => reject(new SipwireError('ERR_INVALID_STATE', `INFO rejected with ${r.message.statusCode}`)),
              },
            })
            .catch(reject);
        });
      }
    });
  }

  /** Put the far end on hold (re-INVITE with `sendonly`); queued after earlier operations; retries on 491 glare. */
  hold(): Promise<void> {
    return this.#enqueue('hold', () => this.#reinvite(true, 0));
  }

  /** Resume from hold (re-INVITE with `sendrecv`); queued after earlier operations. */
  unhold(): Promise<void> {
    return this.#enqueue('unhold', () => this.#reinvite(false, 0));
  }

  async #reinvite(hold: boolean, attempt: number): Promise<void> {
    const options: SipSdhOptions & { hold: boolean } = { hold };
    let retryAfter = 0;
    const code = await new Promise<number>((resolve, reject) => {
      this.#inviteWhenIdle({
        sessionDescriptionHandlerOptions: options,
        requestDelegate: {
          onAccept: () => resolve(200),
          onReject: (r) => {
            retryAfter = Number.parseInt(String(r.message.getHeader('Retry-After') ?? ''), 10) || 0;
            resolve(r.message.statusCode ?? 500);
          },
        },
      }).catch(reject);
    });
    if (code === 200) {
      this.#held = hold;
      return;
    }
    // Failed: SIP.js keeps the options sticky, so put back the state in force.
    const inForce: SipSdhOptions & { hold: boolean } = { hold: this.#held };
    this.session.sessionDescriptionHandlerOptionsReInvite = inForce;
    if (code === 491 && attempt < this.#options.glareRetries) {
      const [lo, hi] = isInviter(this.session) ? GLARE_OWNER_MS : GLARE_OTHER_MS;
      await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
      if (this.#state !== 'established') throw new SipwireError('ERR_CLOSED', 'call ended during glare retry');
      return this.#reinvite(hold, attempt + 1);
    }
    if (code === 500 && retryAfter > 0 && retryAfter <= 10 && attempt < this.#options.glareRetries) {
      // RFC 3261 §14.2: an INVITE still in progress on the far side (e.g. our
      // ACK not yet processed) is refused with 500 + Retry-After.
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      if (this.#state !== 'established') throw new SipwireError('ERR_CLOSED', 'call ended while waiting to retry');
      return this.#reinvite(hold, attempt + 1);
    }
    throw new SipwireError('ERR_INVALID_STATE', `${hold ? 'hold' : 'unhold'} re-INVITE rejected with ${code}`);
  }

  /**
   * `session.invite()`, waiting out a re-INVITE the peer sent us whose ACK has
   * not arrived yet: SIP.js refuses to send then (its error names the
   * "ongoing re-INVITE server transaction"); the ACK, or the end of the call,
   * is the event to wait for. SIP.js clears that transaction before it hands
   * the ACK to the delegate, so the retry goes through.
   */
  async #inviteWhenIdle(options: Parameters<Session['invite']>[0]): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.session.invite(options);
      } catch (e) {
        if (!/ongoing re-INVITE server transaction/i.test(String((e as Error)?.message)) || attempt >= 3) throw e;
        await new Promise<void>((resolve) => {
          this.#ackWaiters.push(resolve);
          void this.#ended.then(() => resolve());
        });
        if (this.#state !== 'established') throw new SipwireError('ERR_CLOSED', 're-INVITE: the call ended');
      }
    }
  }

  // Listening (js/bot/listen.ts): detectors run in Rust; these only wait for their events.
  #listening: CallListening | undefined;
  #listen(): CallListening {
    return (this.#listening ??= new CallListening(this, () => this.#pc(), this.#ended));
  }

  /** Dispatch `speechstart`/`speechend` (`speech: true`) and `beep` (`beep: true`) on this call; `inbandDtmf` turns in-band digit detection on or off. */
  listen(options: ListeningOptions): Promise<void> {
    return this.#listen().listen(options);
  }

  /** Resolve once a tone near `hz` lasted `minDurationMs`; rejects with `ERR_TIMEOUT` (a wrong frequency never resolves it). */
  waitForTone(hz: number, options?: WaitForToneOptions): Promise<{ hz: number }> {
    return this.#listen().waitForTone(hz, options);
  }

  /** Resolve when the far end speaks; rejects with `ERR_TIMEOUT`, or `ERR_CLOSED` when the call ends. */
  waitForSpeech(options?: WaitForSpeechOptions): Promise<void> {
    return this.#listen().waitForSpeech(options);
  }

  /** Resolve once the far end was silent for `ms` after its last speech. */
  waitForSilence(ms: number, options?: WaitForSilenceOptions): Promise<void> {
    return this.#listen().waitForSilence(ms, options);
  }

  /** `'human'`, `'machine'` or `'unknown'` from the greeting's speech pattern (and a beep). */
  detectAnsweringMachine(options?: AnsweringMachineOptions): Promise<AnsweringMachineResult> {
    return this.#listen().detectAnsweringMachine(options);
  }

  /**
   * Transfer the far end: blind to a SIP URI (REFER), or attended to the far
   * end of `target` when it is another established {@link Call} (REFER with
   * Replaces, RFC 3891). Resolves once the transfer target answered (the
   * NOTIFY says 2xx), then hangs this call up (`hangup: false` keeps it);
   * rejects with a `TransferFailedError` carrying the `sipStatus` when the
   * REFER or the target refused. Queued with the call's other operations.
   *
   * @example
   * ```ts
   * await call.transfer('sip:agent@example.com');
   * await call.transfer(consultation);   // attended: our call with the agent
   * ```
   */
  async transfer(target: string | URI | Call, options: TransferOptions = {}): Promise<void> {
    await this.#enqueue('transfer', async () => {
      if (this.#state !== 'established') throw new SipwireError('ERR_INVALID_STATE', `transfer needs an established call, this one is ${this.#state}`);
      let referTo: URI | Session;
      if (target instanceof Call) {
        if (target.state !== 'established') throw new SipwireError('ERR_INVALID_STATE', 'an attended transfer needs the other call established');
        referTo = target.session;
      } else referTo = toUri(target, this.session.userAgent.configuration.uri.host);
      const watch = referOutcome(options.timeoutMs ?? 32_000);
      watch.outcome.catch(() => undefined); // awaited below; not unhandled if refer() throws first
      void this.#ended.then(() => watch.cancel(new SipwireError('ERR_CLOSED', 'transfer: the call ended')));
      await this.session.refer(referTo, {
        onNotify: watch.onNotify,
        requestDelegate: { onReject: (r) => watch.onReferRejected(r.message.statusCode ?? 500) },
      });
      await watch.outcome;
    });
    // Outside the queue: these end calls, which the queue treats as failure.
    if (options.hangup ?? true) {
      const end: CallEnd = { by: 'local', reason: 'transferred' };
      if (target instanceof Call) await target.#byeAs(end);
      await this.#byeAs(end);
    }
  }

  async #byeAs(end: CallEnd): Promise<void> {
    this.#noteCause(end);
    // The far end may have hung up already (some transferees send BYE themselves).
    if (this.#state === 'established') await this.session.bye().catch(() => undefined);
    await this.#ended;
  }

  /** W3C-named stats of the media connection. */
  async stats(): Promise<Map<string, Record<string, unknown> & { id: string; type: string }>> {
    return (await this.#pc()).getStats();
  }

  /**
   * Refuse an incoming call that is not answered yet (486 Busy Here unless
   * told otherwise); the call ends with reason `rejected`.
   */
  async reject(statusCode = 486): Promise<void> {
    const s = this.session;
    if (!isInvitation(s) || (this.#state !== 'new' && this.#state !== 'connecting')) {
      throw new SipwireError('ERR_INVALID_STATE', `reject() is for incoming calls not yet answered (this one is ${this.#state})`);
    }
    this.#noteCause({ by: 'local', reason: 'rejected', sipStatus: statusCode });
    await s.reject({ statusCode });
  }

  /** End the call the way its state calls for: CANCEL, reject (480) or BYE. Resolves once it is sent. */
  async hangup(): Promise<void> {
    const s = this.session;
    switch (this.#state) {
      case 'new':
      case 'connecting':
        if (isInviter(s)) {
          this.#noteCause({ by: 'local', reason: 'cancel' });
          await s.cancel();
        } else if (isInvitation(s)) {
          this.#noteCause({ by: 'local', reason: 'rejected', sipStatus: 480 });
          await s.reject({ statusCode: 480 });
        }
        break;
      case 'established':
        this.#noteCause({ by: 'local', reason: 'bye' });
        await s.bye();
        break;
      default:
        return;
    }
  }
}

/** Options of {@link answerCall}. */
export interface AnswerCallOptions extends CallOptions {
  /** Codecs acceptable in the offer. @defaultValue the UA's factory's `peerConnectionConfiguration.codecs`, else `['opus', 'g722', 'pcmu', 'pcma', 'g729']` */
  codecs?: CodecName[];
  /**
   * Accept unencrypted (`RTP/AVP`) offers; `false` answers them 488.
   * @defaultValue the UA's factory's `peerConnectionConfiguration.allowUnencryptedMedia`, else true
   */
  allowUnencryptedMedia?: boolean;
  sessionDescriptionHandlerOptions?: SipSdhOptions;
  /**
   * Answer a video section so {@link Call.recordVideo} can record it (and,
   * with `direction: 'sendrecv'`, {@link Call.playVideo} can send a clip);
   * absent: video is rejected.
   */
  video?: VideoConfiguration;
}

/**
 * Accept an incoming call, answering 488 Not Acceptable Here when its offer
 * cannot be used (SIP.js alone would send 480), and return the {@link Call}.
 * With `video`, a video section in the offer is answered (receive-only unless
 * `video.direction` says otherwise): {@link Call.recordVideo} records it and,
 * when sending, {@link Call.playVideo} sends a clip; without, it is rejected
 * and audio goes on.
 */
export async function answerCall(invitation: Invitation, options: AnswerCallOptions = {}): Promise<Call> {
  const body = invitation.request.body;
  if (body) {
    // Judge the offer by what the call's connection will be configured with.
    const ua = invitation.userAgent.configuration;
    const pcc = effectivePeerConnectionConfiguration(ua.sessionDescriptionHandlerFactory, ua.sessionDescriptionHandlerFactoryOptions);
    const problem = validateOffer(body, options.codecs ?? pcc.codecs, {
      allowUnencryptedMedia: options.allowUnencryptedMedia ?? pcc.allowUnencryptedMedia,
    });
    if (problem) {
      await invitation.reject({ statusCode: 488, reasonPhrase: 'Not Acceptable Here' });
      throw new SipwireError(problem.code as never, `call refused with 488: ${problem.message}`);
    }
  }
  const call = new Call(invitation, options);
  const sdhOptions: SessionDescriptionHandlerOptions | undefined = options.video
    ? { ...(options.sessionDescriptionHandlerOptions as SessionDescriptionHandlerOptions | undefined), video: options.video }
    : (options.sessionDescriptionHandlerOptions as SessionDescriptionHandlerOptions | undefined);
  await invitation.accept({ sessionDescriptionHandlerOptions: sdhOptions as SipSdhOptions | undefined });
  return call;
}

/**
 * Two calls whose audio is connected, made by {@link bridge}. Ends by {@link CallBridge.unbridge},
 * or when either call ends.
 */
export class CallBridge {
  readonly #native: AudioBridge;
  readonly #cleanup: () => void;
  #done = false;
  constructor(native: AudioBridge, cleanup: () => void) {
    this.#native = native;
    this.#cleanup = cleanup;
  }
  /** True until unbridged or either call ended. */
  get active(): boolean {
    return !this.#done;
  }
  /** Disconnect the calls (each then hears its own plays, or silence). Idempotent. */
  unbridge(): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    this.#native.unbridge();
  }
}

/**
 * Connect two calls' audio inside Rust on the 20 ms media clock, as a B2BUA does: each party
 * hears the other, transcoded when their codecs differ (an Opus leg with a PCMU leg), DTMF one
 * party sends reaches the other in the form the other negotiated (RFC 4733 re-sent as RFC 4733,
 * in-band tones when it has no telephone-event; SIP INFO digits are re-sent as RFC 4733), and hold
 * on either leg is respected. No sample passes through JS.
 *
 * @example
 * ```ts
 * import { bridge, type Call } from 'sipwire/sip';
 * declare const caller: Call, agent: Call;
 * const b = await bridge(caller, agent);
 * await caller.ended;   // the bridge ends with either call
 * console.log(b.active); // false
 * ```
 */
export async function bridge(a: Call, b: Call): Promise<CallBridge> {
  if (a === b) throw new SipwireError('ERR_INVALID_ARG', 'a call cannot be bridged to itself');
  const [pa, pb] = [await a.pcForBridge(), await b.pcForBridge()];
  const native = pa.bridge(pb);
  // Digits that arrive by SIP INFO never reach the native pipeline: relay them here.
  const relay = (to: Call) => (e: DtmfCallEvent) => {
    if (e.method === 'info') void to.sendDtmf(e.digit).catch(() => undefined);
  };
  const [ra, rb] = [relay(b), relay(a)];
  a.addEventListener('dtmf', ra);
  b.addEventListener('dtmf', rb);
  const result: CallBridge = new CallBridge(native, () => {
    a.removeEventListener('dtmf', ra);
    b.removeEventListener('dtmf', rb);
  });
  void Promise.race([a.ended, b.ended]).then(() => result.unbridge());
  return result;
}
