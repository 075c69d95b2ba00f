// B2BUA bot: answers every call, dials a second party, and bridges the two
// legs in Rust (audio transcoded between their codecs, DTMF relayed, hold
// respected). When either leg ends, the bot hangs up the other.
//
// As a library: startB2bua(ua, { target: 'agent' }) on any SIP.js UserAgent.
// Standalone against a SIP server over WebSocket:
//   node examples/b2bua/index.mjs ws://127.0.0.1:8080 sip:b2bua@example.com agent
import { UserAgent } from 'sip.js';
import { answerCall, bridge, dial } from '../../dist/sip.js';

/** Bridge every incoming call on `ua` to `target` (a user at the UA's domain, or a SIP URI). */
export function startB2bua(ua, { target, log = () => {} }) {
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
      let outbound;
      try {
        // The second leg: resolves once answered; hung up if the caller leaves first.
        outbound = await dial(ua, target, { onCall: (c) => void inbound.ended.then(() => c.hangup().catch(() => {})) });
      } catch (e) {
        log(`b2bua: ${target} did not answer: ${e.message}`);
        await inbound.hangup().catch(() => {});
        return;
      }
      // Either side hanging up ends the other.
      void inbound.ended.then(() => outbound.hangup().catch(() => {}));
      void outbound.ended.then(() => inbound.hangup().catch(() => {}));
      await bridge(inbound, outbound);
      log(`b2bua: bridged ${invitation.remoteIdentity.uri} <-> ${target}`);
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
