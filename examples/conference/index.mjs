// Conference bot: answers every call into one room mixed in Rust. Each caller
// hears everyone else (never itself) and a short chime when someone joins;
// a caller pressing '*' toggles their own mute. Who is speaking is logged.
//
// As a library: startConferenceBot(ua) on any SIP.js UserAgent; it returns the Conference.
// Standalone against a SIP server over WebSocket:
//   node examples/conference/index.mjs ws://127.0.0.1:8080 sip:room@example.com
import { UserAgent } from 'sip.js';
import { Conference, sineWave } from '../../dist/index.js';
import { answerCall } from '../../dist/sip.js';

/** Seat every incoming call on `ua` in one conference; returns it. */
export function startConferenceBot(ua, { log = () => {}, sampleRate = 16000 } = {}) {
  const room = new Conference({ sampleRate });
  const chime = sineWave(880, 16000, 150, 4000);
  ua.delegate = {
    ...ua.delegate,
    onInvite: async (invitation) => {
      let call;
      try {
        call = await answerCall(invitation);
      } catch (e) {
        log(`conference: refused: ${e.message}`);
        return;
      }
      const me = room.join(call);
      room.playToAll(chime, 16000);
      let muted = false;
      call.addEventListener('dtmf', (e) => {
        if (e.digit === '*') me.mute((muted = !muted));
      });
      log(`conference: ${invitation.remoteIdentity.uri} joined (${room.participants.length} in the room)`);
      // Leaving is automatic when the call ends; nothing else to clean up.
      void call.ended.then(() => log(`conference: ${invitation.remoteIdentity.uri} left`));
    },
  };
  return room;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [server, aor] = process.argv.slice(2);
  if (!server || !aor) {
    console.error('usage: node examples/conference/index.mjs ws://host:port sip:room@domain');
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
  const room = startConferenceBot(ua, { log: console.log });
  setInterval(() => {
    const who = room.speaking().map((p) => p.id);
    if (who.length) console.log(`speaking: ${who.join(', ')}`);
  }, 1000).unref();
  await ua.start();
  await new Registerer(ua).register();
  console.log(`conference: ${aor} is open`);
}
