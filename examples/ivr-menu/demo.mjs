// The IVR menu with a caller and an agent, three SIP.js UserAgents in one
// process on the in-memory SIP link (no server), real media on 127.0.0.1:
// the caller hears the menu, presses 1 and hears the information, presses 2
// and is transferred to the agent, whom it then hears.
// Run: node examples/ivr-menu/demo.mjs
import { UserAgent } from 'sip.js';
import { detectTone, sineWave } from '../../dist/index.js';
import { InMemorySipLink, sessionDescriptionHandlerFactory, dial, serveCalls } from '../../dist/sip.js';
import { startIvrMenu, MENU_HZ, INFO_HZ } from './index.mjs';

const AGENT_HZ = 900;
const link = new InMemorySipLink();
const sdh = sessionDescriptionHandlerFactory({ peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'] }, iceGatheringTimeout: 1000 });
const ua = (user) =>
  new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@demo.invalid`),
    transportConstructor: link.transportFor(user),
    sessionDescriptionHandlerFactory: sdh,
    logBuiltinEnabled: false,
  });

/** Resolves once `call` hears `hz` for 300 ms; rejects after 8 s. */
async function hears(call, hz) {
  const deadline = Date.now() + 8000;
  let run = 0;
  for await (const f of call.audio({ sampleRate: 16000, batchMs: 100 })) {
    const f0 = detectTone(f.samples, f.sampleRate);
    run = f0 !== null && Math.abs(f0 - hz) < hz * 0.02 ? run + 1 : 0;
    if (run === 3) return;
    if (Date.now() > deadline) break;
  }
  throw new Error(`did not hear ${hz} Hz`);
}

const [ivr, caller, agent] = ['ivr', 'caller', 'agent'].map(ua);
const reports = [];
startIvrMenu(ivr, { agent: 'sip:agent@demo.invalid', onResult: (r) => reports.push(r), log: console.log });
serveCalls(agent, (call) => call.play({ samples: sineWave(AGENT_HZ, 16000, 10000), sampleRate: 16000 }).then(() => undefined));
await Promise.all([ivr.start(), caller.start(), agent.start()]);

const call = await dial(caller, 'sip:ivr@demo.invalid');
await hears(call, MENU_HZ);
console.log(`caller: heard the menu (${MENU_HZ} Hz), pressing 1`);
await call.sendDtmf('1');
await hears(call, INFO_HZ);
console.log(`caller: heard the information (${INFO_HZ} Hz)`);
await hears(call, MENU_HZ); // digits count only while the IVR collects: wait for the menu
console.log('caller: heard the menu again, pressing 2');
const referred = new Promise((resolve) => call.addEventListener('refer', (e) => resolve(e.accept()), { once: true }));
await call.sendDtmf('2');
const toAgent = await referred;
await hears(toAgent, AGENT_HZ);
console.log(`caller: transferred, hears the agent (${AGENT_HZ} Hz)`);
const firstEnd = await call.ended;
await toAgent.hangup();
await toAgent.ended;
await Promise.all([caller.stop(), ivr.stop(), agent.stop()]);
const ok = firstEnd.reason === 'bye' && reports[0]?.transferred === true && reports[0]?.choices.join('') === '12';
console.log(`IVR report: ${JSON.stringify(reports[0])}`);
console.log(ok ? 'demo OK' : 'demo FAILED');
process.exitCode = ok ? 0 : 1;
