/**
 * The bot-facing call API: one object per SIP.js `Session`, so a bot never
 * reaches into SIP.js or SDH internals. Media runs in Rust; a bot that only
 * plays and records never touches a sample.
 *
 * @example
 * ```ts
 * ua.delegate = { onInvite: async (invitation) => {
 *   const call = await answerCall(invitation);       // 488 if the offer is unusable
 *   call.addEventListener('dtmf', (e) => console.log(e.digit, e.method));
 *   await call.play('prompt.wav');
 *   await call.hangup();
 * } };
 * ```
 * @packageDocumentation
 */
import type { Invitation, Session, SessionDescriptionHandlerOptions as SipSdhOptions } from 'sip.js';
import { SipwireError } from '../errors';
import type { AudioFrame, PlayOptions, PlayResult, PlaySource, RecordingOptions, RTCDTMFToneChangeEvent, RTCPeerConnection, VideoConfiguration } from '../peer-connection';
import type { SessionDescriptionHandlerOptions } from '../sdh/session-description-handler-options';
import { SessionDescriptionHandler, type MediaFailureReason } from '../sdh/session-description-handler';
import { validateOffer } from '../audio';
import { TypedEventTarget } from '../typed-event-target';

/** How a digit travelled: RFC 4733 in RTP, or a SIP INFO (`application/dtmf-relay`). */
export type DtmfMethod = 'rfc4733' | 'info';

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

/** How long a call whose far end closed its media waits for that end's BYE before sending its own. */
const REMOTE_CLOSE_GRACE_MS = 500;

/** Every event a {@link Call} dispatches, by type. */
export interface CallEventMap {
  dtmf: DtmfCallEvent;
  established: Event;
  mediafailed: CallMediaFailedEvent;
  ended: Event;
}

/** Options of {@link Call}. */
export interface CallOptions {
  /** Send BYE when media fails. @defaultValue true */
  hangupOnMediaFailure?: boolean;
  /** Retries of a hold/unhold re-INVITE answered 491 (RFC 3261 §14.1). @defaultValue 3 */
  glareRetries?: number;
}

const STATE = { Initial: 'Initial', Establishing: 'Establishing', Established: 'Established', Terminated: 'Terminated' };

/**
 * One SIP call with media. Events: `dtmf` ({@link DtmfCallEvent}, RFC 4733 and
 * SIP INFO alike, each digit once), `established`, `mediafailed`
 * ({@link CallMediaFailedEvent}), `ended`.
 */
export class Call extends TypedEventTarget<CallEventMap> {
  readonly session: Session;
  readonly #options: Required<CallOptions>;
  #held = false;
  #ended: Promise<void>;
  #sdhWaiters: Array<(sdh: SessionDescriptionHandler) => void> = [];

  constructor(session: Session, options: CallOptions = {}) {
    super();
    this.session = session;
    this.#options = { hangupOnMediaFailure: options.hangupOnMediaFailure ?? true, glareRetries: options.glareRetries ?? 3 };
    const delegate = session.delegate ?? {};
    session.delegate = {
      ...delegate,
      onSessionDescriptionHandler: (sdh, provisional) => {
        this.#attach(sdh as unknown as SessionDescriptionHandler);
        delegate.onSessionDescriptionHandler?.(sdh, provisional);
      },
      onInfo: (info) => {
        const body = info.request.body ?? '';
        const ct = String(info.request.getHeader('Content-Type') ?? '');
        const m = /Signal\s*=\s*([0-9A-D#*])/i.exec(body);
        if (/application\/dtmf-relay/i.test(ct) && m) {
          void info.accept();
          this.dispatchEvent(new DtmfCallEvent(m[1].toUpperCase(), 'info'));
        } else if (delegate.onInfo) delegate.onInfo(info);
        else void info.reject({ statusCode: 415 });
      },
    };
    this.#ended = new Promise((resolve) => {
      const onState = (s: string) => {
        if (s === STATE.Established) this.dispatchEvent(new Event('established'));
        if (s === STATE.Terminated) {
          session.stateChange.removeListener(onState);
          this.dispatchEvent(new Event('ended'));
          resolve();
        }
      };
      session.stateChange.addListener(onState);
    });
    const existing = session.sessionDescriptionHandler as unknown as SessionDescriptionHandler | undefined;
    if (existing) this.#attach(existing);
  }

  #attach(sdh: SessionDescriptionHandler): void {
    if (!(sdh instanceof SessionDescriptionHandler)) return;
    sdh.addEventListener('dtmf', (e) => this.dispatchEvent(new DtmfCallEvent(e.digit, 'rfc4733')));
    sdh.addEventListener('mediafailed', (e) => {
      const reason = e.reason;
      this.dispatchEvent(new CallMediaFailedEvent(reason));
      if (!this.#options.hangupOnMediaFailure) return;
      if (reason !== 'remote-closed') {
        void this.hangup().catch(() => undefined);
        return;
      }
      // A far end that hangs up sends its BYE through the proxy while its
      // DTLS close_notify comes straight here, usually first: give the BYE a
      // moment so the two do not cross (our BYE would draw a 481).
      const grace = setTimeout(() => void this.hangup().catch(() => undefined), REMOTE_CLOSE_GRACE_MS);
      void this.#ended.then(() => clearTimeout(grace));
    });
    for (const w of this.#sdhWaiters.splice(0)) w(sdh);
  }

  /** The current SDH (the session may have several early ones; this is the adopted one). */
  get sessionDescriptionHandler(): SessionDescriptionHandler | undefined {
    const sdh = this.session.sessionDescriptionHandler as unknown as SessionDescriptionHandler | undefined;
    return sdh instanceof SessionDescriptionHandler ? sdh : undefined;
  }

  /** The native connection of the current SDH. */
  get peerConnection(): RTCPeerConnection | undefined {
    return this.sessionDescriptionHandler?.peerConnection;
  }

  /** Resolves when the call is over (BYE, CANCEL, reject or failure). */
  get ended(): Promise<void> {
    return this.#ended;
  }

  /** True while our side holds the call. */
  get held(): boolean {
    return this.#held;
  }

  async #pc(): Promise<RTCPeerConnection> {
    if (this.session.state === STATE.Terminated) throw new SipwireError('ERR_CLOSED', 'the call has ended');
    let sdh = this.sessionDescriptionHandler;
    if (!sdh) sdh = await new Promise<SessionDescriptionHandler>((r) => this.#sdhWaiters.push(r));
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

  /** Record what the far end sends to a WAV file until {@link stopRecording} or hangup. */
  async record(path: string, options?: RecordingOptions): Promise<void> {
    await (await this.#pc()).startRecording(path, options);
  }

  /** Finish the recording. */
  async stopRecording(): Promise<void> {
    await this.peerConnection?.stopRecording();
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

  /** Received audio as an async iterator of PCM batches. */
  async *audio(options?: { sampleRate?: 8000 | 16000 | 48000; batchMs?: number }): AsyncGenerator<AudioFrame> {
    yield* (await this.#pc()).audio(options);
  }

  /**
   * Send DTMF by RFC 4733 (default) or SIP INFO (`application/dtmf-relay`,
   * one INFO per digit, in order). Resolves when every digit has been sent.
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
  }

  /** Put the far end on hold (re-INVITE with `sendonly`); retries on 491 glare. */
  hold(): Promise<void> {
    return this.#reinvite(true, 0);
  }

  /** Resume from hold (re-INVITE with `sendrecv`). */
  unhold(): Promise<void> {
    return this.#reinvite(false, 0);
  }

  async #reinvite(hold: boolean, attempt: number): Promise<void> {
    const previous = this.#held;
    this.#held = hold;
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
    if (code === 200) return;
    // Failed: SIP.js keeps the options sticky, so restore the old hold state.
    this.#held = previous;
    this.session.sessionDescriptionHandlerOptionsReInvite = { hold: previous } as SipSdhOptions;
    if (code === 491 && attempt < this.#options.glareRetries) {
      // RFC 3261 §14.1: the Call-ID owner waits 2.1-4 s, the other side 0-2 s.
      const owner = 'cancel' in this.session;
      const ms = owner ? 2100 + Math.random() * 1900 : Math.random() * 2000;
      await new Promise((r) => setTimeout(r, ms));
      if (this.session.state !== STATE.Established) throw new SipwireError('ERR_CLOSED', 'call ended during glare retry');
      return this.#reinvite(hold, attempt + 1);
    }
    if (code === 500 && retryAfter > 0 && retryAfter <= 10 && attempt < this.#options.glareRetries) {
      // RFC 3261 §14.2: an INVITE still in progress on the far side (e.g. our
      // ACK not yet processed) is refused with 500 + Retry-After.
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      if (this.session.state !== STATE.Established) throw new SipwireError('ERR_CLOSED', 'call ended while waiting to retry');
      return this.#reinvite(hold, attempt + 1);
    }
    throw new SipwireError('ERR_INVALID_STATE', `${hold ? 'hold' : 'unhold'} re-INVITE rejected with ${code}`);
  }

  /**
   * `session.invite()`, waiting out a re-INVITE the peer sent us whose ACK has
   * not arrived yet (SIP.js refuses to send then; it has no event to await).
   */
  async #inviteWhenIdle(options: Parameters<Session['invite']>[0]): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.session.invite(options);
      } catch (e) {
        if (!/ongoing re-INVITE/i.test(String((e as Error)?.message)) || attempt >= 40) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** W3C-named stats of the media connection. */
  async stats(): Promise<Map<string, Record<string, unknown> & { id: string; type: string }>> {
    return (await this.#pc()).getStats();
  }

  /** End the call the way its state calls for: CANCEL, reject (480) or BYE. */
  async hangup(): Promise<void> {
    const s = this.session as Session & { cancel?: () => Promise<void>; reject?: (o?: object) => Promise<void> };
    switch (s.state) {
      case STATE.Initial:
      case STATE.Establishing:
        if (typeof s.cancel === 'function') await s.cancel();
        else if (typeof s.reject === 'function') await s.reject({ statusCode: 480 });
        break;
      case STATE.Established:
        await s.bye();
        break;
      default:
        return;
    }
  }
}

/**
 * Accept an incoming call, answering 488 Not Acceptable Here when its offer
 * cannot be used (SIP.js alone would send 480), and return the {@link Call}.
 * With `video`, a video section in the offer is answered (receive-only) and
 * {@link Call.recordVideo} records it; without, it is rejected and audio goes on.
 */
export async function answerCall(
  invitation: Invitation,
  options: CallOptions & {
    codecs?: Array<'opus' | 'pcmu' | 'pcma'>;
    sessionDescriptionHandlerOptions?: SipSdhOptions;
    video?: VideoConfiguration;
  } = {},
): Promise<Call> {
  const body = invitation.request.body;
  if (body) {
    const problem = validateOffer(body, options.codecs);
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
