/**
 * Audio streaming to a WebSocket server, as Twilio Media Streams and jambonz's `listen` do for
 * speech recognition and voice agents: the call's audio goes out in 20 ms binary frames, audio
 * the server sends back is played to the call, and JSON text messages carry control.
 *
 * Where it runs: the WebSocket client is the `ws` package on the JS thread. Samples never pass
 * through JS one by one: Rust decodes and batches 20 ms, JS hands that buffer to the socket as
 * is (L16) or through a native mu-law encoder (PCMU), and audio from the server goes back to the
 * native player as a buffer. `ws` brings TLS (`wss://`), proxies and headers; a Rust client
 * would mean a second async runtime beside the I/O shards for 50 small messages a second.
 *
 * ## Framing
 * sipwire -> server:
 * - text `{"event":"start","streamId","format":"L16"|"PCMU","sampleRate","channels":1,
 *   "direction","reconnect":n,"metadata"}` on every (re)connection, first;
 * - binary: 20 ms of the call's received audio (L16: 16-bit signed little-endian; PCMU: mu-law);
 * - text `{"event":"mark","name","cleared"}`: the audio the server sent before its mark
 *   `name` has been played (`cleared: true`: it was cut short by `clear`);
 * - text `{"event":"dtmf","digit"}` (streams started from a `Call`), `{"event":"stop"}` at the end.
 *
 * server -> sipwire:
 * - binary: audio to play, same format and rate, any length, played in order;
 * - text `{"event":"mark","name"}`: report when everything sent before it has played;
 * - text `{"event":"clear"}`: stop playing now (barge-in); pending marks come back `cleared`;
 * - any other text message is dispatched as a `message` event.
 *
 * ## Back-pressure and reconnect
 * A frame is dropped (counted in `stats.framesDropped`) while the socket has more than
 * `maxBufferedMs` of audio unsent: a slow server loses audio, not memory, and the call never
 * waits. Audio from the server beyond `maxQueuedMs` not yet played is dropped likewise.
 * A stream opened from a URL reconnects after an unexpected close (backoff 250 ms doubling to
 * 4 s, `reconnectAttempts` times, reset by each successful connection) and sends `start` again
 * with `reconnect` counting up; audio while disconnected is dropped. A socket passed in is never
 * reopened. The stream ends (`close` event) on `stop()`, when the connection closes, or when
 * reconnecting gave up; the call itself goes on.
 * @packageDocumentation
 */
import WebSocket from 'ws';
import native = require('./native');
import { SipwireError } from './errors';
import type { RTCPeerConnection } from './peer-connection';
import { TypedEventTarget } from './typed-event-target';

/** A WebSocket-like object (the `ws` package's, or Node's global `WebSocket`). */
export interface StreamSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | Uint8Array | Buffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (ev: { data?: unknown }) => void): void;
  removeEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (ev: { data?: unknown }) => void): void;
}

/** Options of {@link streamAudio} (and `Call.stream`). */
export interface StreamOptions {
  /** Audio encoding on the socket. @defaultValue 'L16' */
  format?: 'L16' | 'PCMU';
  /** Rate of the audio on the socket (PCMU is always 8000). @defaultValue 16000 for L16 */
  sampleRate?: 8000 | 16000;
  /**
   * `'sendrecv'`: the call's audio to the server and the server's audio to the call;
   * `'sendonly'`: only the call's audio goes out (transcription); `'recvonly'`: only the
   * server's audio is played. @defaultValue 'sendrecv'
   */
  direction?: 'sendrecv' | 'sendonly' | 'recvonly';
  /** Copied into every `start` message. */
  metadata?: Record<string, unknown>;
  /** Unsent audio on the socket beyond which frames are dropped. @defaultValue 1000 */
  maxBufferedMs?: number;
  /** Audio from the server waiting to play beyond which more is dropped. @defaultValue 30000 */
  maxQueuedMs?: number;
  /** Reconnections tried after an unexpected close (URL streams only). @defaultValue 5 */
  reconnectAttempts?: number;
}

/** A mark came back from playback: everything the server sent before it was played (or cleared). */
export class StreamMarkEvent extends Event {
  constructor(
    readonly name: string,
    readonly cleared: boolean,
  ) {
    super('mark');
  }
}

/** A text message from the server that is not a control message sipwire handles. */
export class StreamMessageEvent extends Event {
  constructor(readonly message: Record<string, unknown>) {
    super('message');
  }
}

/** Every event an {@link AudioStream} dispatches, by type. */
export interface AudioStreamEventMap {
  /** Connected (again): `start` was sent. */
  open: Event;
  /** Lost the connection; trying again. */
  reconnecting: Event;
  mark: StreamMarkEvent;
  message: StreamMessageEvent;
  /** The stream is over. */
  close: Event;
}

/** Counters of an {@link AudioStream}. */
export interface AudioStreamStats {
  framesSent: number;
  /** Frames not sent: socket backed up or disconnected. */
  framesDropped: number;
  /** Audio bytes received from the server. */
  bytesReceived: number;
  /** Audio from the server dropped because too much was queued, in ms. */
  droppedReceivedMs: number;
  reconnects: number;
}

let nextStreamId = 1;

/** A call's audio streamed to a WebSocket server; see the module docs for the protocol. */
export class AudioStream extends TypedEventTarget<AudioStreamEventMap> {
  /** Sent in `start`; unique in the process. */
  readonly streamId = `sipwire-${process.pid}-${nextStreamId++}`;
  readonly stats: AudioStreamStats = { framesSent: 0, framesDropped: 0, bytesReceived: 0, droppedReceivedMs: 0, reconnects: 0 };
  readonly #pc: RTCPeerConnection;
  readonly #url: string | undefined;
  readonly #format: 'L16' | 'PCMU';
  readonly #rate: 8000 | 16000;
  readonly #direction: 'sendrecv' | 'sendonly' | 'recvonly';
  readonly #opts: StreamOptions;
  #socket: StreamSocket | undefined;
  #stopped = false;
  #queuedMs = 0;
  #lastPlay: Promise<unknown> = Promise.resolve();
  #cleared = 0;
  #closed: Promise<void>;
  #resolveClosed!: () => void;
  #iterator: AsyncGenerator<unknown> | undefined;

  /** @internal Use {@link streamAudio} or `Call.stream`. */
  constructor(pc: RTCPeerConnection, target: string | StreamSocket, options: StreamOptions) {
    super();
    this.#pc = pc;
    this.#opts = options;
    this.#format = options.format ?? 'L16';
    if (this.#format !== 'L16' && this.#format !== 'PCMU') throw new SipwireError('ERR_INVALID_ARG', `format must be 'L16' or 'PCMU', got ${JSON.stringify(this.#format)}`);
    this.#rate = this.#format === 'PCMU' ? 8000 : (options.sampleRate ?? 16000);
    if (this.#rate !== 8000 && this.#rate !== 16000) throw new SipwireError('ERR_INVALID_ARG', `sampleRate must be 8000 or 16000, got ${this.#rate}`);
    this.#direction = options.direction ?? 'sendrecv';
    if (!['sendrecv', 'sendonly', 'recvonly'].includes(this.#direction)) throw new SipwireError('ERR_INVALID_ARG', `direction must be 'sendrecv', 'sendonly' or 'recvonly'`);
    this.#closed = new Promise((r) => (this.#resolveClosed = r));
    if (typeof target === 'string') {
      if (!/^wss?:\/\//.test(target)) throw new SipwireError('ERR_INVALID_ARG', `stream URL must be ws:// or wss://, got ${JSON.stringify(target)}`);
      this.#url = target;
      this.#connect(0);
    } else {
      this.#attach(target, 0);
    }
    // The pump also notices the connection closing (the iterator ends): the stream ends with it.
    void this.#pump().finally(() => void this.stop());
  }

  /** Resolves once the stream is over. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Send a JSON control message of the application's own to the server. */
  send(message: Record<string, unknown>): void {
    if (this.#socket?.readyState === 1) this.#socket.send(JSON.stringify(message));
  }

  /** End the stream: `stop` is sent, the socket closed, playback of streamed audio stopped. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return this.#closed;
    this.#stopped = true;
    const s = this.#socket;
    if (s?.readyState === 1) {
      s.send(JSON.stringify({ event: 'stop', streamId: this.streamId }));
      s.close(1000, 'stream stopped');
    } else s?.close();
    void this.#iterator?.return(undefined);
    this.#resolveClosed();
    this.dispatchEvent(new Event('close'));
    return this.#closed;
  }

  #connect(attempt: number): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.#url!) as unknown as StreamSocket;
    this.#attach(ws, attempt);
  }

  #attach(socket: StreamSocket, attempt: number): void {
    this.#socket = socket;
    socket.binaryType = socket instanceof WebSocket ? 'nodebuffer' : 'arraybuffer';
    let opened = false;
    const onOpen = () => {
      opened = true;
      socket.send(
        JSON.stringify({
          event: 'start',
          streamId: this.streamId,
          format: this.#format,
          sampleRate: this.#rate,
          channels: 1,
          direction: this.#direction,
          reconnect: this.stats.reconnects,
          metadata: this.#opts.metadata ?? {},
        }),
      );
      this.dispatchEvent(new Event('open'));
    };
    const onMessage = (ev: { data?: unknown }) => this.#onMessage(ev.data);
    const onClose = () => {
      socket.removeEventListener('open', onOpen);
      socket.removeEventListener('message', onMessage);
      socket.removeEventListener('close', onClose);
      socket.removeEventListener('error', onError);
      if (this.#stopped || this.#socket !== socket) return;
      const left = (this.#opts.reconnectAttempts ?? 5) - (opened ? 0 : attempt);
      if (this.#url === undefined || left <= 0 || this.#pc.connectionState === 'closed') {
        void this.stop();
        return;
      }
      const next = opened ? 1 : attempt + 1;
      this.stats.reconnects++;
      this.dispatchEvent(new Event('reconnecting'));
      setTimeout(() => this.#connect(next), Math.min(4000, 250 * 2 ** (next - 1)));
    };
    const onError = () => {}; // a close follows
    socket.addEventListener('open', onOpen);
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    socket.addEventListener('error', onError);
    if (socket.readyState === 1) onOpen();
  }

  async #pump(): Promise<void> {
    const it = this.#pc.audio({ sampleRate: this.#rate, batchMs: 20 });
    this.#iterator = it;
    const bytesPerMs = this.#format === 'PCMU' ? this.#rate / 1000 : (this.#rate / 1000) * 2;
    const limit = (this.#opts.maxBufferedMs ?? 1000) * bytesPerMs;
    for await (const frame of it) {
      if (this.#stopped) break;
      if (this.#direction === 'recvonly') continue;
      const s = this.#socket;
      if (s?.readyState !== 1 || s.bufferedAmount > limit) {
        this.stats.framesDropped++;
        continue;
      }
      const { samples } = frame;
      s.send(this.#format === 'PCMU' ? native.pcmuEncode(samples) : new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
      this.stats.framesSent++;
    }
  }

  #onMessage(data: unknown): void {
    if (this.#stopped) return;
    if (typeof data === 'string') {
      this.#onControl(String(data));
      return;
    }
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
    if (!bytes) return;
    if (this.#direction === 'sendonly') return;
    this.stats.bytesReceived += bytes.length;
    let samples: Int16Array;
    if (this.#format === 'PCMU') samples = native.pcmuDecode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    else {
      const copy = new Uint8Array(bytes.length & ~1);
      copy.set(bytes.subarray(0, copy.length));
      samples = new Int16Array(copy.buffer);
    }
    const ms = (samples.length * 1000) / this.#rate;
    if (this.#queuedMs + ms > (this.#opts.maxQueuedMs ?? 30000)) {
      this.stats.droppedReceivedMs += ms;
      return;
    }
    this.#queuedMs += ms;
    const play = this.#pc.play({ samples, sampleRate: this.#rate }).finally(() => (this.#queuedMs -= ms));
    this.#lastPlay = play.catch(() => undefined);
  }

  #onControl(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (msg.event === 'mark') {
      const name = String(msg.name ?? (msg.mark as { name?: unknown } | undefined)?.name ?? '');
      const generation = this.#cleared;
      void this.#lastPlay.then(() => {
        const cleared = generation !== this.#cleared;
        this.send({ event: 'mark', streamId: this.streamId, name, cleared });
        this.dispatchEvent(new StreamMarkEvent(name, cleared));
      });
    } else if (msg.event === 'clear') {
      this.#cleared++;
      this.#pc.stopPlayback();
    } else this.dispatchEvent(new StreamMessageEvent(msg));
  }
}

/**
 * Stream a connection's audio to a WebSocket server (`ws://`/`wss://` URL, or an open socket)
 * and play what the server sends back. See the module docs for framing, back-pressure,
 * reconnect and marks.
 *
 * @example
 * ```ts
 * import { streamAudio, type RTCPeerConnection } from 'sipwire';
 * declare const pc: RTCPeerConnection;
 * const stream = streamAudio(pc, 'ws://127.0.0.1:9000/agent', { format: 'L16', sampleRate: 16000 });
 * stream.addEventListener('mark', (e) => console.log('played up to', e.name));
 * await stream.stop();
 * ```
 */
export function streamAudio(pc: RTCPeerConnection, target: string | StreamSocket, options: StreamOptions = {}): AudioStream {
  if (pc.connectionState === 'closed') throw new SipwireError('ERR_CLOSED', 'the connection is closed');
  return new AudioStream(pc, target, options);
}
