// Harness for examples/ivr-menu through a real Kamailio: a caller bot dials
// the IVR bot, checks each prompt by its tone, presses digits, and gets
// transferred to an agent bot whose tone it then hears. The IVR's own report
// says what it saw and how each call ended.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { detectTone, sineWave } from '../dist/index.js';
import { dial, serveCalls } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { kamailioParties, near, withTimeout, DOMAIN } from './support/sip.mjs';
import { startIvrMenu, MENU_HZ, INFO_HZ, ACCOUNT_HZ, CONFIRM_HZ, GOODBYE_HZ } from '../examples/ivr-menu/index.mjs';

const skip = kamailioAvailable() ? false : 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)';
const AGENT_HZ = 900;

/** Resolves once `call` hears `hz` for 3 consecutive 100 ms batches; rejects after `ms`. */
async function hears(call, hz, ms = 8000) {
  const heard = [];
  const listen = async () => {
    let run = 0;
    for await (const f of call.audio({ sampleRate: 16000, batchMs: 100 })) {
      const f0 = detectTone(f.samples, f.sampleRate);
      heard.push(f0 === null ? '-' : Math.round(f0));
      run = near(f0, hz) ? run + 1 : 0;
      if (run === 3) return;
    }
    throw new Error('call ended');
  };
  await withTimeout(listen(), ms, `hearing ${hz} Hz (heard ${heard.slice(-12).join(' ')})`);
}

let kam;
let parties;
let stop;
before(async () => {
  if (skip) return;
  kam = await startKamailio();
  ({ parties, stop } = await kamailioParties(kam.wsUrl, ['ivr', 'caller', 'agent']));
});
after(async () => {
  await stop?.();
  await kam?.stop();
});

test('IVR menu: 9 repeats the menu, 1 plays the information, 3 takes an account number, 2 transfers to the agent', { skip, timeout: 120_000 }, async () => {
  const [ivr, caller, agent] = parties;
  const reports = [];
  let reported;
  const firstReport = new Promise((r) => (reported = r));
  const ivrServer = startIvrMenu(ivr.ua, { agent: `sip:agent@${DOMAIN}`, onResult: (r) => (reports.push(r), reported()) });
  const agentCalls = [];
  const agentServer = serveCalls(agent.ua, async (call) => {
    agentCalls.push(call);
    await call.play({ samples: sineWave(AGENT_HZ, 16000, 20000), sampleRate: 16000 });
  });
  const errors = [];
  ivrServer.addEventListener('error', (e) => errors.push(e.error));
  agentServer.addEventListener('error', (e) => errors.push(e.error));
  try {
    const call = await dial(caller.ua, `sip:ivr@${DOMAIN}`);
    await hears(call, MENU_HZ);
    await call.sendDtmf('9'); // not a choice: the menu again
    await hears(call, MENU_HZ);
    await call.sendDtmf('1');
    await hears(call, INFO_HZ);
    await hears(call, MENU_HZ);
    await call.sendDtmf('3');
    await hears(call, ACCOUNT_HZ);
    await call.sendDtmf('4711#', { method: 'info' });
    await hears(call, CONFIRM_HZ);
    await hears(call, MENU_HZ);
    // 2: the IVR REFERs us to the agent; we follow.
    const referred = new Promise((resolve) => call.addEventListener('refer', (e) => resolve({ target: e.referTo, follow: e.accept() }), { once: true }));
    await call.sendDtmf('2');
    const { target, follow } = await withTimeout(referred, 10000, 'REFER from the IVR');
    assert.equal(target, `sip:agent@${DOMAIN}`);
    const toAgent = await follow;
    await hears(toAgent, AGENT_HZ);
    assert.deepEqual(await call.ended, { by: 'remote', reason: 'bye' });
    await toAgent.hangup();
    assert.deepEqual(await agentCalls[0].ended, { by: 'remote', reason: 'bye' });
    await withTimeout(firstReport, 5000, 'IVR report');
    assert.equal(reports.length, 1);
    assert.deepEqual(reports[0].choices, ['9', '1', '3', '2']);
    assert.equal(reports[0].account, '4711');
    assert.equal(reports[0].transferred, true);
    assert.deepEqual(reports[0].end, { by: 'local', reason: 'transferred' });

    // Nothing pressed, short menu: three rounds, then goodbye and hang-up.
    ivrServer.close();
    const quick = startIvrMenu(ivr.ua, { agent: `sip:agent@${DOMAIN}`, menuMs: 300, waitMs: 300, onResult: (r) => reports.push(r) });
    quick.addEventListener('error', (e) => errors.push(e.error));
    const idle = await dial(caller.ua, `sip:ivr@${DOMAIN}`);
    await hears(idle, GOODBYE_HZ);
    assert.deepEqual(await idle.ended, { by: 'remote', reason: 'bye' });
    quick.close();
    assert.deepEqual(errors, []);
  } finally {
    ivrServer.close();
    agentServer.close();
  }
});
