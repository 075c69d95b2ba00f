// IVR bot: answers every call, plays a prompt, collects digits (RFC 4733 and
// SIP INFO alike) until '#', records the caller meanwhile, then hangs up.
//
// As a library: startIvrBot(ua) on any SIP.js UserAgent (see examples/demo.mjs).
// Standalone against a SIP server over WebSocket:
//   node examples/ivr-bot/index.mjs ws://127.0.0.1:8080 sip:ivr@example.com
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, detectTone, sineWave, writeWav } from '../../dist/index.js';
import { answerCall } from '../../dist/sip.js';

export const PROMPT_HZ = 440;

/** Handle incoming calls on `ua`; `onResult` gets one report per finished call. */
export function startIvrBot(ua, { onResult = () => {}, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-ivr-'));
  const prompt = join(dir, 'prompt.wav');
  writeWav(prompt, sineWave(PROMPT_HZ, 16000, 1500), 16000); // stands in for a recorded prompt
  let n = 0;
  ua.delegate = {
    ...ua.delegate,
    onInvite: async (invitation) => {
      const id = ++n;
      let call;
      try {
        call = await answerCall(invitation); // 488 for offers we cannot use
      } catch (e) {
        log(`ivr: call ${id} refused: ${e.message}`);
        return;
      }
      const digits = [];
      const gotHash = new Promise((resolve) =>
        call.addEventListener('dtmf', (e) => {
          digits.push({ digit: e.digit, method: e.method });
          if (e.digit === '#') resolve();
        }),
      );
      const recording = join(dir, `caller-${id}.wav`);
      try {
        await call.record(recording);
        await call.play(prompt);
        await Promise.race([gotHash, call.ended, new Promise((r) => setTimeout(r, 15000))]);
        await call.stopRecording();
        const stats = await call.stats().catch(() => new Map());
        await call.hangup();
        const rec = readWav(recording);
        onResult({
          id,
          digits,
          recording,
          heardHz: detectTone(rec.samples, rec.sampleRate),
          recordedMs: Math.round((rec.samples.length * 1000) / rec.sampleRate),
          stats,
        });
      } catch (e) {
        log(`ivr: call ${id} failed: ${e.message}`);
        await call.hangup().catch(() => {});
      }
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [server, uri] = process.argv.slice(2);
  if (!server || !uri) {
    console.error('usage: node examples/ivr-bot/index.mjs <ws://server> <sip:user@domain>');
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
  startIvrBot(ua, { onResult: (r) => console.log(`call ${r.id}: digits ${r.digits.map((d) => d.digit).join('')}, heard ${r.heardHz?.toFixed(0)} Hz`), log: console.log });
  await ua.start();
  await new Registerer(ua).register();
  console.log(`IVR bot registered as ${uri}; Ctrl-C to stop`);
}
