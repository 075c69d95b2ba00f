// B2BUA bot: answers every call, dials a second party, and bridges the two
// legs in Rust (audio transcoded between their codecs, DTMF relayed, hold
// respected). When either leg ends, the bot hangs up the other.
//
// As a library: startB2bua(ua, { target: 'agent' }) on any SIP.js UserAgent.
// Standalone against a SIP server over WebSocket:
//   node examples/b2bua/index.mjs ws://127.0.0.1:8080 sip:b2bua@example.com agent
import { Inviter, UserAgent } from 'sip.js';
import { answerCall, bridge, Call } from '../../dist/sip.js';

/** Bridge every incoming call on `ua` to `target` (a user part or a SIP URI). */
export function startB2bua(ua, { target, log = () => {} }) {
  const uri = UserAgent.makeURI(target.startsWith('sip:') ? target : `sip:${target}@${ua.configuration.uri.host}`);
  if (!uri) throw new Error(`bad target ${target}`);
  ua.delegate = {
    ...ua.delegate,
    onInvite: async (invitation) => {
      let inbound;
      try {
        inbound = await answerCall(invitation);
      } catch (e) {
        log(`b2bua: refused: ${e.message}`);
        return;
      }
      // The second leg: a plain outgoing call from the same UserAgent.
      const inviter = new Inviter(ua, uri);
      const outbound = new Call(inviter);
      const hangUpBoth = () => Promise.all([inbound.hangup().catch(() => {}), outbound.hangup().catch(() => {})]);
      void inbound.ended.then(hangUpBoth);
      void outbound.ended.then(hangUpBoth);
      const answered = new Promise((resolve, reject) => {
        outbound.addEventListener('established', resolve, { once: true });
        void outbound.ended.then(() => reject(new Error(`${target} did not answer`)));
      });
      answered.catch(() => {});
      try {
        await inviter.invite();
        await answered;
        await bridge(inbound, outbound);
        log(`b2bua: bridged ${invitation.remoteIdentity.uri} <-> ${uri}`);
      } catch (e) {
        log(`b2bua: ${e.message}`);
        await hangUpBoth();
      }
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [server, aor, target] = process.argv.slice(2);
  if (!server || !aor || !target) {
    console.error('usage: node examples/b2bua/index.mjs ws://host:port sip:b2bua@domain target');
    process.exit(2);
  }
  const { sessionDescriptionHandlerFactory, WsTransport } = await import('../../dist/sip.js');
  const { Registerer } = await import('sip.js');
  const ua = new UserAgent({
    uri: UserAgent.makeURI(aor),
    transportConstructor: WsTransport,
    transportOptions: { server },
    sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory(),
  });
  startB2bua(ua, { target, log: console.log });
  await ua.start();
  await new Registerer(ua).register();
  console.log(`b2bua: ${aor} bridges callers to ${target}`);
}
