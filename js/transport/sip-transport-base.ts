/**
 * What the UDP, TCP and TLS transports share: SIP.js' Transport state machine (same transitions
 * and callback order as `WsTransport` and SIP.js' `Web.Transport`), the rewriting that puts the
 * real listening address into Via and Contact, and request routing (outbound proxy, else the
 * top Route, else the Request-URI, each located by RFC 3263).
 *
 * Why rewrite: SIP.js writes a random `<token>.invalid` host into Via and Contact (it was made
 * for WebSocket, where the peer routes back over the connection). A UDP/TCP peer needs an
 * address it can reach, so on the way out the top Via of each request becomes
 * `SIP/2.0/UDP ip:port;branch=...;rport` (RFC 3581) and each Contact URI with that host becomes
 * `sip:user@ip:port;transport=udp`. On the way in, the top Via of a response is turned back
 * into the `.invalid` host, because SIP.js drops responses whose Via is not its own
 * (user-agent.js, "Via sent-by ... does not match"); parameters the server added
 * (`received`, `rport`) are kept. Requests get `received`/`rport` (RFC 3261 §18.2.1,
 * RFC 3581 §4) so responses can find their way back.
 */
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { EmitterImpl, TransportState, type Core, type Emitter, type Transport } from "sip.js";
import {
  parseSipMessage,
  rewriteContacts,
  rewriteTopVia,
  setParam,
  headerParam,
  type SipMessageInfo,
  type ViaValue,
} from "./sip-message";
import { resolveSipUri, type SipAddress, type SipResolver, type SipTransportName } from "./sip-resolver";
import { ALLOWED_TRANSITIONS } from "./transport-states";

type Logger = Core.Logger;

/** Options every SIP socket transport takes (`UserAgentOptions.transportOptions`). */
export interface SipSocketTransportOptions {
  /**
   * Send every request here (registrar, proxy, SBC, SIP trunk): a SIP URI (`sip:pbx.example.com`,
   * `sip:10.0.0.5:5060`) or `host[:port]`, located by RFC 3263 (SRV, then A/AAAA). Without it,
   * each request goes to its top Route or its Request-URI, located the same way.
   */
  outboundProxy?: string;
  /** Local address to bind. Default "0.0.0.0" (IPv4 any). */
  bindAddress?: string;
  /** Local port to bind/listen on. Default 0 (the OS picks one). */
  port?: number;
  /**
   * Host (and optionally port, "host:port") put in Via and Contact. Default: the bound address,
   * or when bound to a wildcard, the local address of the route to the outbound proxy.
   */
  advertisedAddress?: string;
  /** DNS client for RFC 3263 lookups. Default `node:dns` (with /etc/hosts fallback). */
  resolver?: SipResolver;
  /** Seconds allowed for DNS and (TCP/TLS) connection set-up. Default 5. */
  connectionTimeout?: number;
  /** Log every sent/received message at SIP.js "log" level. Default false. */
  traceSip?: boolean;
}

/** Where a message came from. */
export interface SipPeer {
  address: string;
  port: number;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

export function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

const DEFAULT_CONNECTION_TIMEOUT_S = 5;
/** How long a resolved Route/Request-URI target is reused. */
const RESOLVE_CACHE_MS = 60_000;

/** Base class of {@link UdpTransport}, {@link TcpTransport} and {@link TlsTransport}. */
export abstract class SipSocketTransport implements Transport {
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;

  protected readonly logger: Logger;
  protected readonly name: string;
  protected readonly transportName: SipTransportName;
  protected readonly baseOptions: SipSocketTransportOptions & { connectionTimeout: number; bindAddress: string; port: number };
  /** Host and port put into Via and Contact once the socket is open. */
  protected advertised: { host: string; port: number } | undefined;
  /** The outbound proxy's addresses, resolved on connect(). */
  protected proxyAddresses: SipAddress[] | undefined;
  /** The `.invalid` host SIP.js puts in its Via (learned from the first request it sends). */
  private viaHost: string | undefined;
  private readonly resolveCache = new Map<string, { at: number; addrs: Promise<SipAddress[]> }>();
  private readonly _stateChange = new EmitterImpl<TransportState>();
  private _state: TransportState = TransportState.Disconnected;
  private transitioning = false;
  private connectPromise: Promise<void> | undefined;
  private disconnectPromise: Promise<void> | undefined;
  /** Bumped on each connect/disconnect so a stale async step can tell it lost the race. */
  protected generation = 0;

  constructor(logger: Logger, transportName: SipTransportName, options: SipSocketTransportOptions | undefined) {
    this.logger = logger;
    this.transportName = transportName;
    this.name = `${transportName.toUpperCase()}Transport`;
    const timeout = options?.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT_S;
    if (!(typeof timeout === "number" && timeout > 0 && Number.isFinite(timeout))) {
      throw new Error(`${this.name}: connectionTimeout must be a positive number of seconds, got ${timeout}`);
    }
    const port = options?.port ?? 0;
    if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`${this.name}: invalid port ${port}`);
    const bindAddress = options?.bindAddress ?? "0.0.0.0";
    if (!isIP(bindAddress)) throw new Error(`${this.name}: bindAddress must be an IP address, got "${bindAddress}"`);
    if (options?.outboundProxy !== undefined && (typeof options.outboundProxy !== "string" || !options.outboundProxy.trim())) {
      throw new Error(`${this.name}: outboundProxy must be a SIP URI or host[:port]`);
    }
    this.baseOptions = { ...options, connectionTimeout: timeout, bindAddress, port };
  }

  /** Via sent-protocol: "UDP", "TCP" or "TLS". */
  get protocol(): string {
    return this.transportName.toUpperCase();
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

  /** The address peers reach this UA at (`host:port`), once connected. */
  get contactAddress(): string | undefined {
    return this.advertised ? hostPort(this.advertised.host, this.advertised.port) : undefined;
  }

  /** Open sockets; resolve the outbound proxy. Rejects (and cleans up) on failure. */
  protected abstract open(generation: number): Promise<void>;
  /** Close every socket; never rejects. */
  protected abstract close(): Promise<void>;
  /** Put one message on the wire. */
  protected abstract transmit(data: Buffer, info: SipMessageInfo): Promise<void>;

  connect(): Promise<void> {
    switch (this._state) {
      case TransportState.Connected:
        return Promise.resolve();
      case TransportState.Connecting:
        return this.connectPromise ?? Promise.reject(new Error(`${this.name}: inconsistent Connecting state`));
      default:
        break;
    }
    const loop = this.transition(TransportState.Connecting);
    if (loop) return Promise.reject(loop);
    const gen = ++this.generation;
    const promise = (async () => {
      // Never complete inside the caller's stack: SIP.js may be mid-way through start().
      await Promise.resolve();
      try {
        await this.disconnectPromise;
        if (this.baseOptions.outboundProxy) {
          this.proxyAddresses = await withTimeout(
            resolveSipUri(this.baseOptions.outboundProxy, this.transportName, { resolver: this.baseOptions.resolver, family: this.socketFamily() }),
            this.baseOptions.connectionTimeout * 1000,
            `resolving ${this.baseOptions.outboundProxy}`
          );
        }
        await this.open(gen);
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        await this.close();
        if (gen === this.generation && this._state === TransportState.Connecting) this.transition(TransportState.Disconnected, error);
        throw error;
      }
      if (gen !== this.generation || this._state !== TransportState.Connecting) {
        throw new Error(`${this.name}: connect aborted by disconnect()`);
      }
      this.logger.log(`${this.name} listening on ${this.contactAddress}`);
      this.transition(TransportState.Connected);
    })();
    this.connectPromise = promise;
    promise.catch(() => {}).finally(() => {
      if (this.connectPromise === promise) this.connectPromise = undefined;
    });
    return promise;
  }

  disconnect(): Promise<void> {
    switch (this._state) {
      case TransportState.Disconnected:
        return Promise.resolve();
      case TransportState.Disconnecting:
        return this.disconnectPromise ?? Promise.resolve();
      default:
        break;
    }
    const loop = this.transition(TransportState.Disconnecting);
    if (loop) return Promise.reject(loop);
    this.generation++;
    const promise = (async () => {
      await Promise.resolve();
      await this.close();
      if (this._state === TransportState.Disconnecting) this.transition(TransportState.Disconnected);
    })();
    this.disconnectPromise = promise;
    promise.finally(() => {
      if (this.disconnectPromise === promise) this.disconnectPromise = undefined;
    });
    return promise;
  }

  dispose(): Promise<void> {
    return this.disconnect();
  }

  send(message: string): Promise<void> {
    if (this._state !== TransportState.Connected) {
      return Promise.reject(new Error(`${this.name}: not connected`));
    }
    const info = parseSipMessage(message);
    if (!info) return Promise.reject(new Error(`${this.name}: refusing to send a message that is not SIP`));
    let text = message;
    const adv = this.advertised;
    if (adv) {
      if (info.kind === "request") {
        text = rewriteTopVia(text, (via) => {
          this.viaHost ??= via.host;
          return { ...via, protocol: this.protocol, host: adv.host, port: adv.port, params: setParam(via.params, "rport", undefined) };
        });
      }
      const contact = this.contactHostPort(info);
      text = rewriteContacts(text, (h) => h === this.viaHost || /\.invalid$/i.test(h), contact, this.transportName);
    }
    const finalInfo = text === message ? info : (parseSipMessage(text) ?? info);
    if (this.baseOptions.traceSip) this.logger.log(`Sending ${this.protocol} message:\n\n${text}\n`);
    return this.transmit(Buffer.from(text, "utf8"), finalInfo);
  }

  /** Contact host:port for `info`; subclasses may prefer a NAT-discovered address. */
  protected contactHostPort(_info: SipMessageInfo): string {
    return this.contactAddress ?? "";
  }

  /** A response's top Via, before it is turned back into SIP.js' own. UDP uses it for NAT. */
  protected onResponseVia(_via: ViaValue): void {}

  /** Hand a received message to SIP.js after the Via fix-ups. */
  protected deliver(text: string, info: SipMessageInfo, src: SipPeer): void {
    if (this._state !== TransportState.Connected) {
      this.logger.warn(`${this.name}: received message while not connected, discarding`);
      return;
    }
    let out = text;
    if (info.kind === "response") {
      out = rewriteTopVia(text, (via) => {
        this.onResponseVia(via);
        // SIP.js only accepts its own `.invalid` Via host, port-less.
        return this.viaHost ? { ...via, protocol: this.protocol, host: this.viaHost, port: undefined } : via;
      });
    } else {
      out = rewriteTopVia(text, (via) => {
        let params = via.params;
        if (headerParam(params, "rport") !== undefined) params = setParam(params, "rport", String(src.port));
        if (via.host.replace(/^\[|\]$/g, "") !== src.address) params = setParam(params, "received", src.address);
        return { ...via, params };
      });
    }
    if (this.baseOptions.traceSip) this.logger.log(`Received ${this.protocol} message from ${hostPort(src.address, src.port)}:\n\n${out}\n`);
    this.onMessage?.(out);
  }

  /** Where a request goes: the outbound proxy, else its top Route, else its Request-URI. */
  protected async requestTargets(info: SipMessageInfo): Promise<SipAddress[]> {
    if (this.proxyAddresses?.length) return this.proxyAddresses;
    const uri = info.route ?? info.requestUri;
    if (!uri) throw new Error(`${this.name}: request without Request-URI`);
    const now = Date.now();
    const cached = this.resolveCache.get(uri);
    if (cached && now - cached.at < RESOLVE_CACHE_MS) return cached.addrs;
    const addrs = withTimeout(
      resolveSipUri(uri, this.transportName, { resolver: this.baseOptions.resolver, family: this.socketFamily() }),
      this.baseOptions.connectionTimeout * 1000,
      `resolving ${uri}`
    );
    this.resolveCache.set(uri, { at: now, addrs });
    addrs.catch(() => this.resolveCache.delete(uri));
    if (this.resolveCache.size > 256) this.resolveCache.delete(this.resolveCache.keys().next().value as string);
    return addrs;
  }

  /** Where a response goes when no socket/connection is remembered: its top Via (RFC 3261 §18.2.2, RFC 3581 §4). */
  protected responseTargetFromVia(text: string): SipPeer | undefined {
    let target: SipPeer | undefined;
    rewriteTopVia(text, (via) => {
      const received = headerParam(via.params, "received");
      const rport = headerParam(via.params, "rport");
      const host = (received || via.host).replace(/^\[|\]$/g, "");
      const port = rport ? Number(rport) : (via.port ?? (this.transportName === "tls" ? 5061 : 5060));
      if (isIP(host) && port > 0 && port < 65536) target = { address: host, port };
      return via;
    });
    return target;
  }

  /**
   * Address to advertise when bound to a wildcard and no route tells us better: the first
   * non-internal interface address of the socket's family, else loopback.
   */
  protected interfaceAddress(): string {
    const fam = this.socketFamily();
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.internal || (fam === 6 ? a.family !== "IPv6" : a.family !== "IPv4")) continue;
        if (fam === 6 && a.address.toLowerCase().startsWith("fe80")) continue; // link-local needs a zone
        return a.address;
      }
    }
    return fam === 6 ? "::1" : "127.0.0.1";
  }

  /** IP family of the bound socket. */
  protected socketFamily(): 4 | 6 {
    return isIP(this.baseOptions.bindAddress) === 6 ? 6 : 4;
  }

  /** Called by subclasses when the transport can no longer work (e.g. the proxy connection dropped). */
  protected fail(error: Error): void {
    if (this._state !== TransportState.Connected) return;
    this.logger.warn(error.message);
    this.generation++;
    void this.close().then(() => {
      if (this._state === TransportState.Connected) this.transition(TransportState.Disconnected, error);
    });
  }

  /** Returns an Error instead of throwing when called re-entrantly from a state listener. */
  private transition(newState: TransportState, error?: Error): Error | undefined {
    if (this.transitioning) {
      const msg =
        `${this.name}: state transition loop detected (${this._state} -> ${newState}); ` +
        `do not call connect()/disconnect() synchronously from a stateChange listener`;
      this.logger.error(msg);
      return new Error(msg);
    }
    const oldState = this._state;
    if (!ALLOWED_TRANSITIONS[oldState].includes(newState)) {
      throw new Error(`${this.name}: invalid state transition from ${oldState} to ${newState}`);
    }
    this.transitioning = true;
    try {
      this._state = newState;
      this.logger.log(`Transitioned from ${oldState} to ${newState}`);
      this._stateChange.emit(newState);
      if (newState === TransportState.Connected) this.onConnect?.();
      if (oldState === TransportState.Connected) {
        if (error) this.onDisconnect?.(error);
        else this.onDisconnect?.();
      }
    } finally {
      this.transitioning = false;
    }
    return undefined;
  }
}
