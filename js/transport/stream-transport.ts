import { createServer as createTcpServer, connect as tcpConnect, isIP, type Server, type Socket } from "node:net";
import {
  connect as tlsConnect,
  createServer as createTlsServer,
  checkServerIdentity,
  type ConnectionOptions,
  type TLSSocket,
} from "node:tls";
import type { Core } from "sip.js";
import { StreamFramer } from "./sip-framing";
import { parseSipMessage, type SipMessageInfo } from "./sip-message";
import type { SipAddress } from "./sip-resolver";
import { SipSocketTransport, errorText, hostPort, type SipPeer, type SipSocketTransportOptions } from "./sip-transport-base";

type Logger = Core.Logger;

/** Options for {@link TcpTransport}. */
export interface TcpTransportOptions extends SipSocketTransportOptions {
  /**
   * Accept connections on `bindAddress:port` (the Contact address). Default true. Without a
   * listener, peers can only reach this UA over connections it opened (the proxy connection).
   */
  listen?: boolean;
}

/** Options for {@link TlsTransport}. Certificate verification is on unless you turn it off. */
export interface TlsTransportOptions extends TcpTransportOptions {
  /** Trusted CA certificates (PEM). Default: Node's bundled Mozilla CAs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Our certificate chain (PEM): for the listener, and as client certificate (mutual TLS). */
  cert?: string | Buffer | Array<string | Buffer>;
  /** Private key (PEM) for `cert`. */
  key?: string | Buffer | Array<string | Buffer>;
  /** Reject servers whose certificate does not verify. Default true; false is for tests only. */
  rejectUnauthorized?: boolean;
  /**
   * Name the server certificate must match (and the SNI sent). Default: the host of the
   * outbound proxy / Request-URI (RFC 5922 §4), even when it is an IP address.
   */
  servername?: string;
  /** Any other `tls.connect` options (ciphers, minVersion, ...). */
  tlsOptions?: ConnectionOptions;
}

interface Conn {
  socket: Socket;
  key: string;
  remote: SipPeer;
  framer: StreamFramer;
  /** Opened by us to the outbound proxy: losing it disconnects the transport. */
  proxy: boolean;
}

/** Transport of one connection-oriented flavour (TCP or TLS), sharing everything else. */
abstract class StreamTransport extends SipSocketTransport {
  protected readonly streamOptions: TlsTransportOptions;
  private server: Server | undefined;
  private readonly conns = new Map<string, Conn>();
  private readonly pending = new Map<string, Promise<Conn>>();
  /** Which connection each server transaction's request came in on (branch|method). */
  private readonly requestConns = new Map<string, { conn: Conn; at: number }>();

  constructor(logger: Logger, kind: "tcp" | "tls", options: TlsTransportOptions | undefined) {
    super(logger, kind, options);
    this.streamOptions = options ?? {};
  }

  /** Number of open connections (for tests). */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** The listening port, if listening. */
  get localPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : undefined;
  }

  protected abstract createServer(): Server | undefined;
  protected abstract dial(addr: SipAddress): Socket;
  /** Event the dialled socket emits once usable ("connect" or "secureConnect"). */
  protected abstract readonly readyEvent: string;

  protected async open(gen: number): Promise<void> {
    const { bindAddress, port } = this.baseOptions;
    const server = this.streamOptions.listen === false ? undefined : this.createServer();
    if (server) {
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error) => reject(new Error(`${this.protocol} listen on ${hostPort(bindAddress, port)} failed: ${errorText(e)}`, { cause: e }));
        server.once("error", onError);
        server.listen(port, bindAddress, () => {
          server.off("error", onError);
          resolve();
        });
      });
      server.on("error", (e) => this.logger.error(`${this.protocol} listener error: ${errorText(e)}`));
    }
    if (gen !== this.generation) return;
    let proxyConn: Conn | undefined;
    if (this.proxyAddresses?.length) proxyConn = await this.connectAny(this.proxyAddresses, true);
    const configured = this.baseOptions.advertisedAddress;
    const lp = this.localPort;
    if (lp === undefined && !proxyConn) {
      // Nothing to put in Contact that a peer could reach.
      throw new Error(
        `${this.name}: no listener (TLS needs cert and key to listen) and no outboundProxy connection; give one of them`
      );
    }
    if (configured) {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(configured);
      if (!m) throw new Error(`${this.name}: invalid advertisedAddress "${configured}"`);
      this.advertised = { host: m[1].replace(/^\[|\]$/g, ""), port: m[2] ? Number(m[2]) : (lp ?? proxyConn?.socket.localPort ?? 0) };
    } else {
      const wildcard = bindAddress === "0.0.0.0" || bindAddress === "::";
      const host = wildcard ? (proxyConn?.socket.localAddress ?? this.interfaceAddress()) : bindAddress;
      this.advertised = { host: host.replace(/^::ffff:/, ""), port: lp ?? proxyConn?.socket.localPort ?? 0 };
    }
  }

  protected async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.conns.values()) c.socket.destroy();
    this.conns.clear();
    this.pending.clear();
    this.requestConns.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected async transmit(data: Buffer, info: SipMessageInfo): Promise<void> {
    let conn: Conn | undefined;
    if (info.kind === "response") {
      const c = this.requestConns.get(`${info.branch}|${info.cseqMethod}`)?.conn;
      if (c && this.conns.get(c.key) === c) conn = c;
      else {
        // The request's connection is gone: open one to the Via address (RFC 3261 §18.2.2).
        const via = this.responseTargetFromVia(data.toString("latin1"));
        if (!via) throw new Error(`${this.name}: no connection or address for the response`);
        conn = await this.connectAny([{ ...via, family: isIP(via.address) === 6 ? 6 : 4, hostname: via.address }], false);
      }
    } else {
      conn = await this.connectAny(await this.requestTargets(info), false);
    }
    const sock = conn.socket;
    await new Promise<void>((resolve, reject) => {
      sock.write(data as unknown as Uint8Array, (err) => {
        if (err) reject(new Error(`${this.protocol} send to ${conn.key} failed: ${errorText(err)}`, { cause: err }));
        else resolve();
      });
    });
  }

  /** Reuse a connection to one of `addrs`, or open one, trying each address in order. */
  private async connectAny(addrs: SipAddress[], proxy: boolean): Promise<Conn> {
    let lastError: unknown;
    for (const a of addrs) {
      const key = hostPort(a.address, a.port);
      const existing = this.conns.get(key);
      if (existing) {
        if (proxy) existing.proxy = true;
        return existing;
      }
      let p = this.pending.get(key);
      if (!p) {
        p = this.openConn(a, key, proxy);
        this.pending.set(key, p);
        const done = p;
        p.catch(() => {}).finally(() => {
          if (this.pending.get(key) === done) this.pending.delete(key);
        });
      }
      try {
        return await p;
      } catch (e) {
        lastError = e;
        this.logger.warn(errorText(e));
      }
    }
    throw lastError instanceof Error ? lastError : new Error(`${this.name}: no address to connect to`);
  }

  private openConn(a: SipAddress, key: string, proxy: boolean): Promise<Conn> {
    const gen = this.generation;
    return new Promise<Conn>((resolve, reject) => {
      let sock: Socket;
      try {
        sock = this.dial(a);
      } catch (e) {
        reject(new Error(`${this.protocol} connect to ${key} failed: ${errorText(e)}`, { cause: e }));
        return;
      }
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`${this.protocol} connect to ${key} timed out after ${this.baseOptions.connectionTimeout} s`));
      }, this.baseOptions.connectionTimeout * 1000);
      const onError = (e: Error) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new Error(`${this.protocol} connect to ${key} failed: ${errorText(e)}`, { cause: e }));
      };
      sock.once("error", onError);
      sock.once(this.readyEvent, () => {
        clearTimeout(timer);
        sock.off("error", onError);
        if (gen !== this.generation) {
          sock.destroy();
          reject(new Error(`${this.name}: connection attempt abandoned (transport closed)`));
          return;
        }
        resolve(this.adopt(sock, { address: a.address, port: a.port }, proxy));
      });
    });
  }

  /** Start reading a connected socket (ours or accepted). */
  protected adopt(sock: Socket, remote: SipPeer, proxy: boolean): Conn {
    const key = hostPort(remote.address, remote.port);
    const conn: Conn = { socket: sock, key, remote, framer: new StreamFramer(), proxy };
    this.conns.get(key)?.socket.destroy();
    this.conns.set(key, conn);
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30_000);
    sock.on("data", (chunk: Buffer) => this.onData(conn, chunk));
    sock.on("error", (e) => this.logger.warn(`${this.protocol} connection ${key}: ${errorText(e)}`));
    sock.on("close", () => this.onConnClose(conn));
    return conn;
  }

  protected accept(sock: Socket): void {
    const address = (sock.remoteAddress ?? "").replace(/^::ffff:/, "");
    const port = sock.remotePort ?? 0;
    if (!address || !port) {
      sock.destroy();
      return;
    }
    this.adopt(sock, { address, port }, false);
  }

  private onData(conn: Conn, chunk: Buffer): void {
    if (this.conns.get(conn.key) !== conn) return;
    let items;
    try {
      items = conn.framer.push(chunk);
    } catch (e) {
      // Framing is lost for good on this stream (RFC 3261 §18.3): drop the connection.
      this.logger.warn(`${this.protocol} connection ${conn.key}: ${errorText(e)}; closing it`);
      conn.socket.destroy();
      return;
    }
    for (const item of items) {
      if (item.type === "ping") {
        conn.socket.write("\r\n"); // RFC 5626 §4.4.1 pong
        continue;
      }
      const text = item.data.toString("utf8");
      const info = parseSipMessage(text);
      if (!info) {
        this.logger.warn(`${this.protocol} connection ${conn.key}: dropping a message that is not SIP`);
        continue;
      }
      if (info.kind === "request" && info.method !== "ACK") {
        const now = Date.now();
        this.requestConns.set(`${info.branch}|${info.method}`, { conn, at: now });
        if (this.requestConns.size > 64) {
          for (const [k, v] of this.requestConns) if (v.at < now - 120_000) this.requestConns.delete(k);
        }
      }
      this.deliver(text, info, conn.remote);
    }
  }

  private onConnClose(conn: Conn): void {
    if (this.conns.get(conn.key) !== conn) return;
    this.conns.delete(conn.key);
    if (conn.proxy) this.fail(new Error(`${this.protocol} connection to outbound proxy ${conn.key} closed`));
  }
}

/**
 * SIP.js 0.21 `Transport` for SIP over TCP (RFC 3261 §18) on `node:net`. Messages are framed by
 * Content-Length ({@link StreamFramer}); connections are reused per destination and responses go
 * back over the connection their request came in on. With `outboundProxy`, the connection to the
 * proxy is opened by `connect()`, and losing it moves the transport to Disconnected (as a closed
 * WebSocket does), so SIP.js' reconnection logic applies.
 *
 * @example
 * ```ts
 * const ua = new UserAgent({
 *   uri: UserAgent.makeURI("sip:bot@pbx.example.com"),
 *   transportConstructor: TcpTransport,
 *   transportOptions: { outboundProxy: "sip:pbx.example.com" }, // SRV _sip._tcp, then A
 * });
 * ```
 */
export class TcpTransport extends StreamTransport {
  protected readonly readyEvent = "connect";

  constructor(logger: Logger, options?: TcpTransportOptions) {
    super(logger, "tcp", options);
  }

  protected createServer(): Server {
    return createTcpServer((sock) => this.accept(sock));
  }

  protected dial(a: SipAddress): Socket {
    return tcpConnect({ host: a.address, port: a.port, family: a.family, localAddress: this.localBind() });
  }

  private localBind(): string | undefined {
    const b = this.baseOptions.bindAddress;
    return b === "0.0.0.0" || b === "::" ? undefined : b;
  }
}

/**
 * SIP.js 0.21 `Transport` for SIP over TLS (RFC 3261 §26.2, RFC 5922) on `node:tls`. The server
 * certificate is verified against `ca` (default: Node's CA bundle) and against the host of the
 * URI being reached (or `servername`); verification is on unless `rejectUnauthorized: false`.
 * A listener runs only when `cert` and `key` are given. Contact carries `;transport=tls` with a
 * `sip:` URI (SIP.js only accepts `sip:` Request-URIs).
 *
 * @example
 * ```ts
 * const ua = new UserAgent({
 *   uri: UserAgent.makeURI("sip:bot@pbx.example.com"),
 *   transportConstructor: TlsTransport,
 *   transportOptions: { outboundProxy: "sip:pbx.example.com", ca: readFileSync("ca.pem") }, // SRV _sips._tcp
 * });
 * ```
 */
export class TlsTransport extends StreamTransport {
  protected readonly readyEvent = "secureConnect";

  constructor(logger: Logger, options?: TlsTransportOptions) {
    super(logger, "tls", options);
    if (options?.rejectUnauthorized === false) {
      logger.warn("TLSTransport: certificate verification is OFF (rejectUnauthorized: false)");
    }
  }

  protected createServer(): Server | undefined {
    const { cert, key, ca } = this.streamOptions;
    if (!cert || !key) return undefined;
    return createTlsServer({ cert, key, ca }, (sock) => this.accept(sock));
  }

  protected dial(a: SipAddress): Socket {
    const o = this.streamOptions;
    const name = o.servername ?? a.hostname;
    const b = this.baseOptions.bindAddress;
    // TCP first (tls.connect's types have no localAddress), then TLS on top of it.
    const tcp = tcpConnect({ host: a.address, port: a.port, family: a.family, localAddress: b === "0.0.0.0" || b === "::" ? undefined : b });
    const socket: TLSSocket = tlsConnect({
      ...o.tlsOptions,
      socket: tcp,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      // SNI must be a DNS name (RFC 6066 §3); the identity check still uses `name`, IP or not.
      servername: isIP(name) ? undefined : name,
      checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
    });
    // TCP errors (ECONNREFUSED) surface on the TLS socket too; this only keeps them handled.
    tcp.on("error", () => {});
    return socket;
  }
}
