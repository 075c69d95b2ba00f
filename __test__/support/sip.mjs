// SIP harness for the call tests: SIP.js UserAgents with sipwire's SDH and
// Call API, over a real Kamailio (WsTransport) or the in-memory link.
import { UserAgent, Registerer, RegistererState, Inviter, SessionState, SIPExtension } from 'sip.js';
import { sessionDescriptionHandlerFactory, Call, answerCall, WsTransport, InMemorySipLink } from '../../dist/sip.js';
import { detectTone } from '../../dist/index.js';

export const DOMAIN = 'sipwire.invalid';

export const withTimeout = (p, ms, what) => {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
};

export const onceState = (session, state, ms = 10000) =>
  session.state === state
    ? Promise.resolve()
    : withTimeout(
        new Promise((resolve) => {
          const l = (s) => {
            if (s === state) {
              session.stateChange.removeListener(l);
              resolve();
            }
          };
          session.stateChange.addListener(l);
        }),
        ms,
        `session ${state}`,
      );

/** A SIP party: a UserAgent whose SDHs are counted, with an incoming-call queue. */
export class Party {
  constructor(name, transport, { codecs, rtpTimeout, replaces } = {}) {
    this.name = name;
    this.sdhCreated = 0;
    this.sdhClosed = 0;
    this.invites = [];
    this.warnings = [];
    this.inviteWaiters = [];
    const base = sessionDescriptionHandlerFactory({
      peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'], codecs, rtpTimeout },
      iceGatheringTimeout: 1000,
    });
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${name}@${DOMAIN}`),
      ...transport,
      sessionDescriptionHandlerFactory: (session, options) => {
        const sdh = base(session, options);
        this.sdhCreated++;
        sdh.addEventListener('close', () => this.sdhClosed++);
        sdh.addEventListener('warning', (e) => this.warnings.push(e.message));
        return sdh;
      },
      sipExtension100rel: SIPExtension.Supported,
      ...(replaces ? { sipExtensionReplaces: SIPExtension.Supported } : {}),
      logLevel: 'error',
      logBuiltinEnabled: false,
      delegate: {
        onInvite: (invitation) => {
          const w = this.inviteWaiters.shift();
          if (w) w(invitation);
          else this.invites.push(invitation);
        },
      },
    });
  }

  async start(register) {
    await this.ua.start();
    if (register) {
      const r = new Registerer(this.ua, { expires: 300 });
      const ok = new Promise((resolve) => {
        const l = (s) => s === RegistererState.Registered && (r.stateChange.removeListener(l), resolve());
        r.stateChange.addListener(l);
      });
      await r.register();
      await withTimeout(ok, 5000, `${this.name} registered`);
    }
  }

  /** The next incoming INVITE. */
  nextInvite(ms = 10000) {
    const queued = this.invites.shift();
    if (queued) return Promise.resolve(queued);
    return withTimeout(new Promise((r) => this.inviteWaiters.push(r)), ms, `${this.name} INVITE`);
  }

  /** Place a call; resolves once the INVITE is sent. */
  async dial(target, inviterOptions = {}, callOptions = {}) {
    const inviter = new Inviter(this.ua, UserAgent.makeURI(`sip:${target}@${DOMAIN}`), inviterOptions);
    const call = new Call(inviter, callOptions);
    await inviter.invite(inviterOptions.inviteOptions ?? {});
    return call;
  }

  async stop() {
    await this.ua.stop();
  }
}

/** alice and bob over a fresh in-memory link. */
export async function memoryPair(opts = {}) {
  const link = new InMemorySipLink({ trace: opts.trace });
  const alice = new Party('alice', { transportConstructor: link.transportFor('alice') }, opts);
  const bob = new Party('bob', { transportConstructor: link.transportFor('bob') }, opts);
  await alice.start(false);
  await bob.start(false);
  return { alice, bob, link, stop: async () => Promise.all([alice.stop(), bob.stop()]) };
}

/** alice and bob registered to the Kamailio at `wsUrl`. */
export async function kamailioPair(wsUrl, opts = {}) {
  const t = { transportConstructor: WsTransport, transportOptions: { server: wsUrl, connectionTimeout: 3 } };
  const alice = new Party('alice', t, opts);
  const bob = new Party('bob', t, opts);
  await alice.start(true);
  await bob.start(true);
  return { alice, bob, stop: async () => Promise.all([alice.stop(), bob.stop()]) };
}

/** Parties `names` registered to the Kamailio at `wsUrl`. */
export async function kamailioParties(wsUrl, names, opts = {}) {
  const t = { transportConstructor: WsTransport, transportOptions: { server: wsUrl, connectionTimeout: 3 } };
  const parties = names.map((n) => new Party(n, t, opts));
  for (const p of parties) await p.start(true);
  return { parties, stop: async () => Promise.all(parties.map((p) => p.stop())) };
}

/** Connect a call from `from` to `to`; returns both Calls once established. */
export async function establish(from, to, { inviterOptions, answerOptions, play } = {}) {
  const [callerCall, invitation] = await Promise.all([from.dial(to.name, inviterOptions), to.nextInvite()]);
  // Established on the callee means "200 sent"; a re-INVITE before the ACK
  // arrives is refused with 500 (RFC 6337 §4.3), so also wait for the ACK.
  const acked = new Promise((resolve) => (invitation.delegate = { ...invitation.delegate, onAck: (ack) => (resolve(), ack.accept?.()) }));
  const calleeCall = await answerCall(invitation, answerOptions);
  await onceState(callerCall.session, SessionState.Established);
  await onceState(invitation, SessionState.Established);
  await withTimeout(acked, 10000, 'ACK');
  return [callerCall, calleeCall];
}

/** Collect `ms` of audio from a Call and return its dominant frequency. */
export async function heardTone(call, ms = 600, sampleRate = 16000) {
  const chunks = [];
  let n = 0;
  for await (const f of call.audio({ sampleRate, batchMs: 100 })) {
    chunks.push(f.samples);
    n += f.samples.length;
    if (n >= (sampleRate * ms) / 1000) break;
  }
  const all = new Int16Array(n);
  let o = 0;
  for (const c of chunks) (all.set(c, o), (o += c.length));
  return detectTone(all.subarray(Math.floor(n / 2)), sampleRate);
}

export const near = (f, want, frac = 0.02) => f !== null && Math.abs(f - want) <= want * frac;

export async function inboundPackets(call) {
  const s = [...(await call.stats()).values()].find((x) => x.type === 'inbound-rtp');
  return s ? s.packetsReceived : 0;
}

export { SessionState };
