import { EmitterImpl, TransportState, type Core, type Emitter, type Transport } from "sip.js";

type Logger = Core.Logger;

/** One message crossing an {@link InMemorySipLink}, for tracing. */
export interface InMemoryTraceEvent {
  /** User of the sending transport, or "link" for responses the link makes up (404/480). */
  from: string;
  /** User of the receiving transport; undefined when nobody could take it. */
  to: string | undefined;
  /** The whole SIP message. */
  message: string;
}

export interface InMemorySipLinkOptions {
  /** Called for every message the link routes (or fails to route). */
  trace?: (event: InMemoryTraceEvent) => void;
}

/** `transportOptions` for {@link InMemoryTransport}. */
export interface InMemoryTransportOptions {
  link: InMemorySipLink;
  /** The user part of this UA's AOR; requests whose Request-URI user matches come here. */
  user: string;
}

/** What `UserAgentOptions.transportConstructor` expects. */
export type InMemoryTransportConstructor = new (logger: Logger, options?: unknown) => InMemoryTransport;

// ---- a deliberately small SIP header reader: only what routing needs ----

const COMPACT: Record<string, string> = { v: "via", i: "call-id", f: "from", t: "to", m: "contact", l: "content-length" };

interface Parsed {
  startLine: string;
  method?: string;
  status?: number;
  ruriUser?: string;
  /** Header lines in order, unfolded, with lowercase full names. */
  headers: Array<[name: string, line: string]>;
}

function parse(message: string): Parsed | undefined {
  const end = message.indexOf("\r\n\r\n");
  const head = (end < 0 ? message : message.slice(0, end)).replace(/\r\n[ \t]+/g, " ");
  const lines = head.split("\r\n");
  const startLine = lines[0] ?? "";
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const raw = line.slice(0, colon).trim().toLowerCase();
    headers.push([COMPACT[raw] ?? raw, line]);
  }
  const status = /^SIP\/2\.0\s+(\d{3})\b/.exec(startLine);
  if (status) return { startLine, status: Number(status[1]), headers };
  const req = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/.exec(startLine);
  if (!req) return undefined;
  return { startLine, method: req[1]!.toUpperCase(), ruriUser: uriUser(req[2]!), headers };
}

function uriUser(text: string): string | undefined {
  const m = /sips?:([^@;>?\s]+)@/i.exec(text);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
}

function value(p: Parsed, name: string): string | undefined {
  const h = p.headers.find(([n]) => n === name);
  return h ? h[1].slice(h[1].indexOf(":") + 1).trim() : undefined;
}

function topBranch(p: Parsed): string | undefined {
  const via = value(p, "via");
  return via ? /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] : undefined;
}

function cseqMethod(p: Parsed): string | undefined {
  return value(p, "cseq")?.split(/\s+/)[1]?.toUpperCase();
}

const REASONS: Record<number, string> = { 404: "Not Found", 480: "Temporarily Unavailable" };

/** A stateless final response to `req`, as a proxy would send it. */
function makeResponse(req: Parsed, status: number): string {
  const out = [`SIP/2.0 ${status} ${REASONS[status] ?? "Error"}`];
  for (const [name, line] of req.headers) {
    if (name === "via" || name === "from" || name === "call-id" || name === "cseq") out.push(line);
    if (name === "to") out.push(/;\s*tag=/i.test(line) ? line : `${line};tag=link${Math.random().toString(36).slice(2, 10)}`);
  }
  out.push("Content-Length: 0");
  return out.join("\r\n") + "\r\n\r\n";
}

const TRANSACTION_GRACE_MS = 32_000; // 64*T1: INVITE 2xx retransmissions may still come back

/**
 * A wire with no server, joining SIP.js UserAgents in one process (the embedded default for
 * tests, demos and bot-to-bot calls). Requests go to the transport whose AOR user (or, for
 * in-dialog requests, whose Contact user) equals the Request-URI user; responses go back to the
 * transport that sent the request with the same top Via branch. A request nobody can take gets a
 * 404 (480 if that user exists but is disconnected). Every message is delivered whole, on a later
 * event-loop turn, in send order. Any number of UAs may share one link.
 *
 * @example
 * ```ts
 * import { UserAgent, Inviter } from "sip.js";
 * import { InMemorySipLink } from "sipwire/sip";
 *
 * const link = new InMemorySipLink();
 * const alice = new UserAgent({ uri: UserAgent.makeURI("sip:alice@local.invalid"), transportConstructor: link.transportFor("alice") });
 * const bob = new UserAgent({ uri: UserAgent.makeURI("sip:bob@local.invalid"), transportConstructor: link.transportFor("bob") });
 * bob.delegate = { onInvite: (invitation) => invitation.accept() };
 * await alice.start(); await bob.start();
 * await new Inviter(alice, UserAgent.makeURI("sip:bob@local.invalid")!).invite();
 * ```
 */
export class InMemorySipLink {
  private readonly trace?: (event: InMemoryTraceEvent) => void;
  /** Every transport created for this link, by AOR user. */
  private readonly byUser = new Map<string, InMemoryTransport>();
  /** Contact user → transport, learnt from the Contact headers each transport sends. */
  private readonly byContact = new Map<string, InMemoryTransport>();
  /** Top Via branch of a request → its sender, for routing the responses. */
  private readonly byBranch = new Map<string, { sender: InMemoryTransport; timer?: NodeJS.Timeout }>();

  /** Deliveries held back by {@link InMemorySipLink.pause}. */
  private held: Array<() => void> | undefined;

  constructor(options: InMemorySipLinkOptions = {}) {
    this.trace = options.trace;
  }

  /**
   * Hold every message in flight until {@link InMemorySipLink.resume}, as a
   * network stall would: lets tests make requests cross (e.g. re-INVITE glare).
   */
  pause(): void {
    this.held ??= [];
  }

  /** Deliver what {@link InMemorySipLink.pause} held, in order, and stop holding. */
  resume(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of held) deliver();
  }

  /**
   * A `transportConstructor` for the UA whose AOR user is `user`; `transportOptions` can be
   * left out.
   */
  transportFor(user: string): InMemoryTransportConstructor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const link = this;
    return class BoundInMemoryTransport extends InMemoryTransport {
      constructor(logger: Logger, _options?: unknown) {
        super(logger, { link, user });
      }
    };
  }

  /** AOR users of the transports currently connected. */
  get connectedUsers(): string[] {
    return [...this.byUser.values()].filter((t) => t.isConnected()).map((t) => t.user);
  }

  /** @internal */
  attach(t: InMemoryTransport): void {
    const current = this.byUser.get(t.user);
    if (current && current !== t && current.state !== TransportState.Disconnected) {
      throw new Error(`InMemorySipLink: user "${t.user}" already has a live transport on this link`);
    }
    this.byUser.set(t.user, t);
  }

  /** @internal Forget routes through a transport that went away. */
  detach(t: InMemoryTransport): void {
    for (const [k, v] of this.byContact) if (v === t) this.byContact.delete(k);
    for (const [k, v] of this.byBranch) {
      if (v.sender === t) {
        clearTimeout(v.timer);
        this.byBranch.delete(k);
      }
    }
  }

  /** @internal */
  route(sender: InMemoryTransport, message: string): void {
    const p = parse(message);
    if (!p) {
      this.emitTrace(sender.user, undefined, message);
      return; // keep-alives and garbage: a real network would not answer either
    }
    const contact = value(p, "contact");
    const cUser = contact ? uriUser(contact) : undefined;
    if (cUser !== undefined) this.byContact.set(cUser, sender);

    if (p.status !== undefined) {
      const branch = topBranch(p);
      const entry = branch ? this.byBranch.get(branch) : undefined;
      if (entry && branch && p.status >= 200) {
        // Keep the route a while for retransmitted 2xx to INVITE, then forget it.
        clearTimeout(entry.timer);
        entry.timer = setTimeout(() => this.byBranch.delete(branch), TRANSACTION_GRACE_MS);
        entry.timer.unref();
      }
      this.deliver(sender.user, entry?.sender, message);
      return;
    }

    const branch = topBranch(p);
    if (branch && p.method !== "ACK" && !this.byBranch.has(branch)) this.byBranch.set(branch, { sender });
    const user = p.ruriUser;
    let target = user === undefined ? undefined : this.byContact.get(user);
    if (!target?.isConnected()) target = (user === undefined ? undefined : this.byUser.get(user)) ?? target;
    if (target?.isConnected()) {
      this.deliver(sender.user, target, message);
      return;
    }
    this.emitTrace(sender.user, undefined, message);
    if (p.method === "ACK") return;
    const reply = makeResponse(p, target ? 480 : 404);
    this.deliver("link", sender, reply);
  }

  private deliver(from: string, to: InMemoryTransport | undefined, message: string): void {
    this.emitTrace(from, to?.user, message);
    if (!to) return;
    const deliver = () => setImmediate(() => to.receive(message));
    if (this.held) this.held.push(deliver);
    else deliver();
  }

  private emitTrace(from: string, to: string | undefined, message: string): void {
    if (!this.trace) return;
    try {
      this.trace({ from, to, message });
    } catch {
      // a tracing bug must not break routing
    }
  }
}

/**
 * SIP.js `Transport` over an {@link InMemorySipLink}. Usually created through
 * `link.transportFor(user)`; can also be used directly as
 * `transportConstructor: InMemoryTransport, transportOptions: { link, user }`.
 */
export class InMemoryTransport implements Transport {
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  readonly user: string;

  private readonly link: InMemorySipLink;
  private readonly logger: Logger;
  private readonly _stateChange = new EmitterImpl<TransportState>();
  private _state: TransportState = TransportState.Disconnected;
  private pending: Promise<void> | undefined;

  constructor(logger: Logger, options?: InMemoryTransportOptions) {
    if (!options || !(options.link instanceof InMemorySipLink) || typeof options.user !== "string" || !options.user) {
      throw new Error("InMemoryTransport: transportOptions must be { link: InMemorySipLink, user: string }");
    }
    this.logger = logger;
    this.link = options.link;
    this.user = options.user;
  }

  get protocol(): string {
    return "WS";
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
    if (this._state === TransportState.Connected) return Promise.resolve();
    if (this._state === TransportState.Connecting && this.pending) return this.pending;
    try {
      this.link.attach(this);
    } catch (e) {
      return Promise.reject(e);
    }
    this.set(TransportState.Connecting);
    const p = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (this._state !== TransportState.Connecting) {
          reject(new Error(`InMemoryTransport(${this.user}): connect aborted by disconnect()`));
          return;
        }
        this.pending = undefined;
        this.set(TransportState.Connected);
        this.onConnect?.();
        resolve();
      });
    });
    this.pending = p;
    return p;
  }

  disconnect(): Promise<void> {
    if (this._state === TransportState.Disconnected) return Promise.resolve();
    if (this._state === TransportState.Disconnecting && this.pending) return this.pending;
    const wasConnected = this._state === TransportState.Connected;
    this.set(TransportState.Disconnecting);
    const p = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.pending = undefined;
        this.link.detach(this);
        this.set(TransportState.Disconnected);
        if (wasConnected) this.onDisconnect?.();
        resolve();
      });
    });
    this.pending = p;
    return p;
  }

  dispose(): Promise<void> {
    return this.disconnect();
  }

  send(message: string): Promise<void> {
    if (!this.isConnected()) return Promise.reject(new Error(`InMemoryTransport(${this.user}): not connected`));
    this.link.route(this, message);
    return Promise.resolve();
  }

  /** @internal Called by the link on a later event-loop turn. */
  receive(message: string): void {
    if (!this.isConnected()) {
      this.logger.warn("Received message while not connected, discarding...");
      return;
    }
    this.onMessage?.(message);
  }

  private set(state: TransportState): void {
    this._state = state;
    this.logger.log(`Transitioned to ${state}`);
    this._stateChange.emit(state);
  }
}

/** Two transports on a fresh link, for the common one-to-one case. */
export function createInMemoryTransportPair(
  userA = "alice",
  userB = "bob",
  options?: InMemorySipLinkOptions
): { link: InMemorySipLink; a: InMemoryTransportConstructor; b: InMemoryTransportConstructor } {
  const link = new InMemorySipLink(options);
  return { link, a: link.transportFor(userA), b: link.transportFor(userB) };
}
