// Caller / test harness: places N concurrent calls to an IVR, checks that the
// prompt tone is heard, sends digits by RFC 4733 and by SIP INFO while
// playing a tone for the IVR to record, and reports per call.
import { UserAgent, Inviter } from 'sip.js';
import { Call } from '../../dist/sip.js';

export const CALLER_HZ = 1000;

async function heard(call, ms) {
  const chunks = [];
  let n = 0;
  for await (const f of call.audio({ sampleRate: 16000, batchMs: 100 })) {
    chunks.push(f.samples);
    n += f.samples.length;
    if (n >= 16 * ms) break;
  }
  const all = new Int16Array(n);
  let o = 0;
  for (const c of chunks) (all.set(c, o), (o += c.length));
  const { detectTone } = await import('../../dist/index.js');
  return detectTone(all.subarray(n >> 1), 16000);
}

/** Place `n` calls from `ua` to `target` (a SIP URI); resolves with one report per call. */
export async function placeCalls(ua, target, n = 1) {
  const { sineWave } = await import('../../dist/index.js');
  const one = async (i) => {
    const inviter = new Inviter(ua, UserAgent.makeURI(target));
    const call = new Call(inviter);
    await inviter.invite();
    await call.established; // rejects with a CallEndedError (sipStatus) if the call fails
    call.play({ samples: sineWave(CALLER_HZ, 16000, 8000), sampleRate: 16000 });
    const promptHz = await heard(call, 600);
    await call.sendDtmf('12', { method: 'rfc4733' });
    await call.sendDtmf('34#', { method: 'info' });
    const stats = await call.stats();
    await call.ended; // the IVR hangs up after '#'
    return { i, promptHz, stats };
  };
  return Promise.all(Array.from({ length: n }, (_, i) => one(i + 1)));
}
