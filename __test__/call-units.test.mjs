// The Call API's pure parts, without a network: the state table against
// SIP.js's own, the digit collector's stop rules and timers, SIP INFO and
// sipfrag parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionState } from 'sip.js';
import { CALL_TRANSITIONS, canTransition, infoDigit, sipfragStatus, digitOptions } from '../dist/sip.js';
import { callStateOf } from '../dist/bot/call-state.js';
import { DigitCollector } from '../dist/bot/digits.js';

test('every SIP.js session transition is a call transition, and ended is final', () => {
  // SIP.js 0.21 Session.stateTransition's table.
  const sipjs = {
    Initial: ['Establishing', 'Established', 'Terminating', 'Terminated'],
    Establishing: ['Established', 'Terminating', 'Terminated'],
    Established: ['Terminating', 'Terminated'],
    Terminating: ['Terminated'],
    Terminated: [],
  };
  assert.deepEqual(Object.keys(sipjs).sort(), Object.values(SessionState).sort());
  for (const [from, tos] of Object.entries(sipjs)) {
    for (const to of tos) assert.ok(canTransition(callStateOf(from), callStateOf(to)), `${from} -> ${to}`);
  }
  assert.deepEqual(CALL_TRANSITIONS.ended, []);
  for (const s of Object.keys(CALL_TRANSITIONS)) if (s !== 'ended') assert.ok(canTransition(s, 'ended'), `${s} can end`);
  assert.equal(canTransition('established', 'connecting'), false);
});

/** A digit source driven by hand: `press(d)` delivers a digit, `end()` ends the call. */
function source() {
  let listener;
  let endCall;
  const ended = new Promise((r) => (endCall = r));
  return {
    subscribe: (l) => ((listener = l), () => (listener = undefined)),
    ended,
    press: (d) => listener?.(d),
    end: () => endCall(),
    get subscribed() {
      return listener !== undefined;
    },
  };
}

test('DigitCollector: max, terminator, case, unsubscribes once settled', async () => {
  let s = source();
  let c = new DigitCollector({ max: 2 }, s.subscribe, s.ended);
  c.arm();
  s.press('1');
  s.press('a');
  s.press('3');
  assert.deepEqual(await c.result, { digits: '1A', reason: 'max' });
  assert.equal(s.subscribed, false);
  s = source();
  c = new DigitCollector({ terminators: '*#' }, s.subscribe, s.ended);
  c.arm();
  for (const d of '907*') s.press(d);
  assert.deepEqual(await c.result, { digits: '907', reason: 'terminator', terminator: '*' });
  s = source();
  c = new DigitCollector({ terminators: '' }, s.subscribe, s.ended);
  s.press('#');
  s.end();
  assert.deepEqual(await c.result, { digits: '#', reason: 'ended' });
});

test('DigitCollector: timers run from arm(); the inter-digit timer restarts per digit', async () => {
  const s = source();
  const c = new DigitCollector({ timeoutMs: 5000, interDigitTimeoutMs: 150 }, s.subscribe, s.ended);
  s.press('1'); // before arm: counted, no timer yet
  await new Promise((r) => setTimeout(r, 250));
  const t0 = performance.now();
  c.arm();
  setTimeout(() => s.press('2'), 100);
  const r = await c.result;
  const ms = performance.now() - t0;
  assert.deepEqual(r, { digits: '12', reason: 'interDigitTimeout' });
  assert.ok(ms >= 240 && ms < 600, `${ms.toFixed(0)} ms: 100 ms to the digit, then 150 ms`);
});

test('digit options are checked', () => {
  assert.deepEqual(digitOptions({}), { max: Infinity, terminators: '#', timeoutMs: 10000, interDigitTimeoutMs: 3000 });
  for (const bad of [{ max: 1.5 }, { max: 0 }, { timeoutMs: NaN }, { interDigitTimeoutMs: -5 }, { terminators: 'xy' }, { terminators: '1 ' }, { terminators: 5 }]) {
    assert.throws(() => digitOptions(bad), { code: 'ERR_INVALID_ARG' }, JSON.stringify(bad));
  }
});

test('SIP INFO digits: dtmf-relay (with event numbers) and application/dtmf; other bodies are not digits', () => {
  assert.equal(infoDigit('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), '5');
  assert.equal(infoDigit('Application/DTMF-Relay; charset=x', 'Signal= #\r\nDuration=100'), '#');
  assert.equal(infoDigit('application/dtmf-relay', 'Signal=11\r\n'), '#');
  assert.equal(infoDigit('application/dtmf-relay', 'Signal=10\r\n'), '*');
  assert.equal(infoDigit('application/dtmf-relay', 'Signal=d'), 'D');
  assert.equal(infoDigit('application/dtmf', '7'), '7');
  assert.equal(infoDigit('application/dtmf', ' * \r\n'), '*');
  assert.equal(infoDigit('application/dtmf-relay', 'Signal=16'), undefined);
  assert.equal(infoDigit('application/dtmf', '12'), undefined);
  assert.equal(infoDigit('application/json', '{"signal":"5"}'), undefined);
});

test('sipfrag status lines', () => {
  assert.equal(sipfragStatus('SIP/2.0 200 OK'), 200);
  assert.equal(sipfragStatus('SIP/2.0 100 Trying\r\n'), 100);
  assert.equal(sipfragStatus('SIP/2.0 486 Busy Here'), 486);
  assert.equal(sipfragStatus('garbage'), undefined);
  assert.equal(sipfragStatus(undefined), undefined);
});

test('serveCalls with no error listener: a throwing handler is an uncaught exception, not silence', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = `
    import { UserAgent } from 'sip.js';
    import { InMemorySipLink, sessionDescriptionHandlerFactory, serveCalls, dial } from ${JSON.stringify(new URL('../dist/sip.js', import.meta.url).href)};
    const link = new InMemorySipLink();
    const sdh = sessionDescriptionHandlerFactory({ peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'] }, iceGatheringTimeout: 500 });
    const ua = (u) => new UserAgent({ uri: UserAgent.makeURI('sip:' + u + '@t.invalid'), transportConstructor: link.transportFor(u), sessionDescriptionHandlerFactory: sdh, logBuiltinEnabled: false });
    const bot = ua('bot'), caller = ua('caller');
    serveCalls(bot, async () => { throw new Error('handler bug 42'); });
    await bot.start(); await caller.start();
    const call = await dial(caller, 'sip:bot@t.invalid');
    await call.ended;
    setTimeout(() => process.exit(0), 5000);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.notEqual(r.status, 0, `the process went on: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /handler bug 42/);
});
