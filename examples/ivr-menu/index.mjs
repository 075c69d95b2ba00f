// IVR menu bot written with sipwire's Call helpers: a menu prompt with
// barge-in (playAndCollect), an account number collected until '#'
// (collectDigits' terminators and timeouts), a transfer to a human agent
// (REFER), and a report of how each call ended.
//
//   1 -> information (tone INFO_HZ), then the menu again
//   2 -> blind transfer to the agent
//   3 -> enter an account number ending with #, confirmed by tone CONFIRM_HZ
//   anything else, or nothing -> the menu again (3 times, then goodbye)
//
// Prompts are tones so a harness can check what was played (see
// __test__/ivr-menu.test.mjs); a real IVR passes WAV paths instead.
// As a library: startIvrMenu(ua, { agent: 'sip:agent@example.com' }).
// Standalone against a SIP server over WebSocket:
//   node examples/ivr-menu/index.mjs ws://127.0.0.1:8080 sip:ivr@example.com sip:agent@example.com
import { sineWave } from '../../dist/index.js';
import { serveCalls } from '../../dist/sip.js';

export const MENU_HZ = 440;
export const INFO_HZ = 600;
export const ACCOUNT_HZ = 520;
export const CONFIRM_HZ = 800;
export const GOODBYE_HZ = 350;

const prompt = (hz, ms) => ({ samples: sineWave(hz, 16000, ms), sampleRate: 16000 });

/**
 * Answer every call on `ua` with the menu. `onResult` gets one report per
 * call: the choices made, the account number, whether it was transferred and
 * how the call ended. Returns the CallServer (its `error` event reports a
 * failing call).
 */
export function startIvrMenu(ua, { agent, menuMs = 3000, waitMs = 4000, onResult = () => {}, log = () => {} } = {}) {
  let n = 0;
  const server = serveCalls(ua, async (call) => {
    const report = { id: ++n, choices: [], account: undefined, transferred: false, end: undefined };
    log(`ivr: call ${report.id} answered`);
    for (let round = 0; round < 3 && call.state === 'established'; round++) {
      const { digits, reason } = await call.playAndCollect(prompt(MENU_HZ, menuMs), { max: 1, timeoutMs: waitMs });
      if (reason === 'ended') break;
      report.choices.push(digits || '-');
      if (digits === '1') {
        await call.play(prompt(INFO_HZ, 1500));
        round = -1; // a valid choice starts the count again
      } else if (digits === '2') {
        await call.transfer(agent); // resolves once the agent answered; hangs this call up
        report.transferred = true;
      } else if (digits === '3') {
        const account = await call.playAndCollect(prompt(ACCOUNT_HZ, 1000), { max: 12, terminators: '#', timeoutMs: 15000, interDigitTimeoutMs: 4000 });
        if (account.reason === 'terminator' && account.digits) {
          report.account = account.digits;
          await call.play(prompt(CONFIRM_HZ, 1500));
        }
        round = -1;
      }
    }
    if (call.state === 'established') {
      await call.play(prompt(GOODBYE_HZ, 800));
      await call.hangup();
    }
    report.end = await call.ended;
    log(`ivr: call ${report.id} ended (${report.end.by} ${report.end.reason}), choices ${report.choices.join(',')}`);
    onResult(report);
  });
  server.addEventListener('error', (e) => log(`ivr: call failed: ${e.error}`));
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [server, uri, agent] = process.argv.slice(2);
  if (!server || !uri || !agent) {
    console.error('usage: node examples/ivr-menu/index.mjs <ws://server> <sip:ivr@domain> <sip:agent@domain>');
    process.exit(2);
  }
  const { UserAgent, Registerer } = await import('sip.js');
  const { WsTransport, sessionDescriptionHandlerFactory } = await import('../../dist/sip.js');
  const ua = new UserAgent({
    uri: UserAgent.makeURI(uri),
    transportConstructor: WsTransport,
    transportOptions: { server },
    sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory(),
  });
  startIvrMenu(ua, { agent, log: console.log });
  await ua.start();
  await new Registerer(ua).register();
  console.log(`IVR menu registered as ${uri}; agent ${agent}; Ctrl-C to stop`);
}
