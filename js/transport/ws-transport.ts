import WebSocket, { type RawData } from "ws";
import type { Agent } from "node:http";
import type { SecureContextOptions } from "node:tls";
import { EmitterImpl, TransportState, type Core, type Emitter, type Transport } from "sip.js";
import { ALLOWED_TRANSITIONS } from "./transport-states";

type Logger = Core.Logger;

/** Options for {@link WsTransport}, passed as `UserAgentOptions.transportOptions`. */
export interface WsTransportOptions {
  /** `ws://` or `wss://` URL of the SIP WebSocket server (RFC 7118). */
  server: string;
  /** Seconds to wait for the WebSocket handshake (and for a clean close). Default 5. */
  connectionTimeout?: number;
  /** Log every sent/received message at SIP.js "log" level. Default false. */
  traceSip?: boolean;
  /**
   * Passed through to the `ws` client: `ca`, `cert`, `key`, `rejectUnauthorized`, `headers`,
   * `origin`, `agent`, `maxPayload`, ... The `sip` subprotocol is always requested.
   */
  wsOptions?: WsClientOptions;
}

/**
 * The `ws` client options {@link WsTransport} passes through: the commonly used subset of
 * `ws`'s `ClientOptions`, declared here so sipwire's types need no `@types/ws`.
 */
export interface WsClientOptions extends SecureContextOptions {
  rejectUnauthorized?: boolean | undefined;
  headers?: { [key: string]: string } | undefined;
  origin?: string | undefined;
  agent?: Agent | undefined;
  host?: string | undefined;
  family?: number | undefined;
  localAddress?: string | undefined;
  handshakeTimeout?: number | undefined;
  followRedirects?: boolean | undefined;
  maxRedirects?: number | undefined;
  maxPayload?: number | undefined;
  perMessageDeflate?: boolean | undefined;
}

const DEFAULT_CONNECTION_TIMEOUT_S = 5;

function decode(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data as unknown as Uint8Array[]).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/**
 * SIP.js 0.21 `Transport` for Node.js: SIP over WebSocket (RFC 7118) on the `ws` package, so
 * it needs no global `WebSocket` (Node 20) and accepts TLS/header options for `wss://`.
 *
 * Follows the state machine of SIP.js' own `Web.Transport`: `connect()` moves to Connecting
 * before returning and resolves on Connected; an unexpected close ends in Disconnected with
 * `onDisconnect(error)`; it never reconnects by itself (use `UserAgent.reconnect()`).
 *
 * @example
 * ```ts
 * import { UserAgent, Registerer } from "sip.js";
 * import { WsTransport } from "sipwire/sip";
 *
 * const ua = new UserAgent({
 *   uri: UserAgent.makeURI("sip:alice@example.com"),
 *   transportConstructor: WsTransport,
 *   transportOptions: { server: "wss://sip.example.com", connectionTimeout: 5, wsOptions: { ca: myCaPem } },
 * });
 * await ua.start();
 * await new Registerer(ua).register();
 * ```
 */
export class WsTransport implements Transport {
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;

  private readonly logger: Logger;
  private readonly options: Required<Omit<WsTransportOptions, "wsOptions">> & { wsOptions: WsClientOptions };
  private readonly _protocol: "WS" | "WSS";
  private readonly _stateChange = new EmitterImpl<TransportState>();
  private _state: TransportState = TransportState.Disconnected;
  private transitioning = false;
  private socket: WebSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private connectPromise: Promise<void> | undefined;
  private connectResolve: (() => void) | undefined;
  private connectReject: ((e: Error) => void) | undefined;
  private disconnectPromise: Promise<void> | undefined;
  private disconnectResolve: (() => void) | undefined;
  /** Why the current socket is going away, reported when it closes. */
  private pendingError: Error | undefined;

  constructor(logger: Logger, options?: WsTransportOptions) {
    this.logger = logger;
    const server = options?.server;
    if (typeof server !== "string" || server === "") {
      throw new Error("WsTransport: transportOptions.server is required (ws:// or wss:// URL)");
    }
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new Error(`WsTransport: invalid WebSocket server URL "${server}"`);
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new Error(`WsTransport: server URL must be ws:// or wss://, got "${server}"`);
    }
    const timeout = options?.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT_S;
    if (!(typeof timeout === "number" && timeout > 0 && Number.isFinite(timeout))) {
      throw new Error(`WsTransport: connectionTimeout must be a positive number of seconds, got ${timeout}`);
    }
    this._protocol = url.protocol === "wss:" ? "WSS" : "WS";
    this.options = {
      server,
      connectionTimeout: timeout,
      traceSip: options?.traceSip ?? false,
      wsOptions: options?.wsOptions ?? {},
    };
  }

  /** Via sent-protocol transport: "WS" or "WSS". */
  get protocol(): string {
    return this._protocol;
  }

  /** The server URL. */
  get server(): string {
    return this.options.server;
  }

  get state(): TransportState {
    return this._state;
  }

  get stateChange(): Emitter<TransportState> {
    return this._stateChange;
  }

  isConnected(): boolean {
    return this._state === TransportState.Connected;
  }

  connect(): Promise<void> {
    switch (this._state) {
      case TransportState.Connected:
        return Promise.resolve();
      case TransportState.Connecting:
        return this.connectPromise ?? Promise.reject(new Error("WsTransport: inconsistent Connecting state"));
      case TransportState.Disconnecting:
      case TransportState.Disconnected:
        break;
    }
    const server = this.options.server;
    const loop = this.transition(TransportState.Connecting);
    if (loop) return Promise.reject(loop);
    const promise = new Promise<void>((resolve, reject) => {
      this.connectResolve = resolve;
      this.connectReject = reject;
    });
    this.connectPromise = promise;
    // Reconnecting while an old socket is still closing: drop it now.
    const old = this.socket;
    this.socket = undefined;
    clearTimeout(this.timer);
    old?.terminate();

    let ws: WebSocket;
    try {
      ws = new WebSocket(server, "sip", this.options.wsOptions);
    } catch (e) {
      const error = new Error(`WebSocket connect to ${server} failed: ${errorText(e)}`, { cause: e });
      // Never complete inside the caller's stack: SIP.js may be mid-way through start().
      queueMicrotask(() => {
        if (this._state === TransportState.Connecting && !this.socket) this.transition(TransportState.Disconnected, error);
      });
      return promise;
    }
    this.socket = ws;
    this.pendingError = undefined;
    this.timer = setTimeout(() => {
      if (ws !== this.socket || this._state !== TransportState.Connecting) return;
      this.pendingError = new Error(
        `WebSocket connect to ${server} timed out after ${this.options.connectionTimeout} s`
      );
      this.logger.warn(this.pendingError.message);
      ws.terminate();
    }, this.options.connectionTimeout * 1000);

    ws.on("open", () => this.onOpen(ws));
    ws.on("message", (data, isBinary) => this.onWsMessage(ws, data, isBinary));
    ws.on("error", (e) => this.onWsError(ws, e));
    ws.on("close", (code, reason) => this.onClose(ws, code, reason.toString("utf8")));
    // Keep "unexpected-response" unhandled: ws then reports it as an error with the HTTP status.
    return promise;
  }

  disconnect(): Promise<void> {
    switch (this._state) {
      case TransportState.Disconnected:
        return Promise.resolve();
      case TransportState.Disconnecting:
        return this.disconnectPromise ?? Promise.resolve();
      case TransportState.Connecting:
      case TransportState.Connected:
        break;
    }
    const ws = this.socket;
    const loop = this.transition(TransportState.Disconnecting);
    if (loop) return Promise.reject(loop);
    const promise = new Promise<void>((resolve) => {
      this.disconnectResolve = resolve;
    });
    this.disconnectPromise = promise;
    if (!ws) {
      queueMicrotask(() => {
        if (this._state === TransportState.Disconnecting && !this.socket) this.transition(TransportState.Disconnected);
      });
      return promise;
    }
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(1000);
      // Bound the closing handshake; a silent peer must not stall UserAgent.stop().
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        if (ws === this.socket) ws.terminate();
      }, this.options.connectionTimeout * 1000);
    } else {
      ws.terminate();
    }
    return promise;
  }

  dispose(): Promise<void> {
    return this.disconnect();
  }

  send(message: string): Promise<void> {
    if (this.options.traceSip) this.logger.log(`Sending WebSocket message:\n\n${message}\n`);
    const ws = this.socket;
    if (this._state !== TransportState.Connected || !ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error(`WsTransport: not connected to ${this.options.server}`));
    }
    return new Promise<void>((resolve, reject) => {
      ws.send(message, (err) => {
        if (err) reject(new Error(`WebSocket send to ${this.options.server} failed: ${errorText(err)}`, { cause: err }));
        else resolve();
      });
    });
  }

  // ---- ws events (always on their own event-loop turn, never inside a SIP.js call) ----

  private onOpen(ws: WebSocket): void {
    if (ws !== this.socket || this._state !== TransportState.Connecting) return;
    if (ws.protocol !== "sip") {
      // ws already refuses a missing/unknown subprotocol; this is a belt-and-braces check.
      this.pendingError = new Error(
        `WebSocket connect to ${this.options.server} failed: server did not select the "sip" subprotocol`
      );
      ws.terminate();
      return;
    }
    this.logger.log(`WebSocket opened ${this.options.server}`);
    this.transition(TransportState.Connected);
  }

  private onWsError(ws: WebSocket, e: Error): void {
    if (ws !== this.socket) return;
    if (this._state === TransportState.Disconnecting) {
      this.logger.log(`WebSocket (${this.options.server}) closing: ${errorText(e)}`); // we asked for it
      return;
    }
    this.logger.error(`WebSocket error (${this.options.server}): ${errorText(e)}`);
    if (!this.pendingError) {
      const what = this._state === TransportState.Connecting ? "connect to" : "connection to";
      this.pendingError = new Error(`WebSocket ${what} ${this.options.server} failed: ${errorText(e)}`, { cause: e });
    }
    // "close" follows every "error" in ws; the state change happens there.
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    const expected = this._state === TransportState.Disconnecting;
    let error: Error | undefined;
    if (!expected) {
      error =
        this.pendingError ??
        (this._state === TransportState.Connecting
          ? new Error(`WebSocket connect to ${this.options.server} failed: closed with code ${code}${reason ? ` (${reason})` : ""}`)
          : new Error(`WebSocket closed ${this.options.server} (code: ${code}${reason ? `, ${reason}` : ""})`));
      this.logger.warn(error.message);
    } else {
      this.logger.log(`WebSocket closed ${this.options.server} (code: ${code})`);
    }
    this.pendingError = undefined;
    if (this._state !== TransportState.Disconnected) this.transition(TransportState.Disconnected, error);
  }

  private onWsMessage(ws: WebSocket, data: RawData, isBinary: boolean): void {
    if (ws !== this.socket) return;
    let text: string;
    try {
      text = decode(data);
    } catch (e) {
      this.logger.error(`Dropping undecodable WebSocket ${isBinary ? "binary" : "text"} message: ${errorText(e)}`);
      return;
    }
    if (/^(\r\n)+$/.test(text)) return; // CRLF keep-alive (RFC 5626 §3.5.1)
    if (!text) {
      this.logger.warn("Received empty message, discarding...");
      return;
    }
    if (this.options.traceSip) this.logger.log(`Received WebSocket ${isBinary ? "binary" : "text"} message:\n\n${text}\n`);
    if (this._state !== TransportState.Connected) {
      this.logger.warn("Received message while not connected, discarding...");
      return;
    }
    this.onMessage?.(text);
  }

  // ---- state machine (same transitions and callback order as SIP.js Web.Transport) ----

  /** Returns an Error instead of throwing when called re-entrantly from a state listener. */
  private transition(newState: TransportState, error?: Error): Error | undefined {
    if (this.transitioning) {
      const msg =
        `WsTransport: state transition loop detected (${this._state} -> ${newState}); ` +
        `do not call connect()/disconnect() synchronously from a stateChange listener`;
      this.logger.error(msg);
      return new Error(msg);
    }
    const oldState = this._state;
    if (!ALLOWED_TRANSITIONS[oldState].includes(newState)) {
      throw new Error(`WsTransport: invalid state transition from ${oldState} to ${newState}`);
    }
    this.transitioning = true;
    try {
      this._state = newState;
      const connectResolve = this.connectResolve;
      const connectReject = this.connectReject;
      if (oldState === TransportState.Connecting) {
        this.connectPromise = this.connectResolve = this.connectReject = undefined;
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      const disconnectResolve = this.disconnectResolve;
      if (oldState === TransportState.Disconnecting) {
        this.disconnectPromise = this.disconnectResolve = undefined;
      }
      this.logger.log(`Transitioned from ${oldState} to ${newState}`);
      this._stateChange.emit(newState);
      if (newState === TransportState.Connected) this.onConnect?.();
      if (oldState === TransportState.Connected) {
        if (error) this.onDisconnect?.(error);
        else this.onDisconnect?.();
      }
      if (oldState === TransportState.Connecting) {
        if (newState === TransportState.Connected) connectResolve?.();
        else connectReject?.(error ?? new Error(`WebSocket connect to ${this.options.server} aborted by disconnect()`));
      }
      if (oldState === TransportState.Disconnecting) disconnectResolve?.();
    } finally {
      this.transitioning = false;
    }
    return undefined;
  }
}
