// Smoke test for one Node version (CI runs it under Node 20, 22 and 24 via
// scripts/smoke-node.sh, and the packaging test runs it in an installed
// project). It imports the package by name: inside the repository that is the
// package's self-reference through its `exports` map, in a project the
// installed copy. Exits non-zero unless:
// 1. two RTCPeerConnections (root entry) connect over 127.0.0.1 and each
//    detects the tone the other plays;
// 2. two SIP.js user agents (`sipwire/sip`) on the in-memory link place a call
//    and each end detects the other's tone.
// `--root-only` runs part 1 only (the packaging test's project without sip.js).
import { RTCPeerConnection, detectTone, sineWave } from 'sipwire';

const within = (p, ms, what) => {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(t));
};

/** Dominant frequency of the second half of `ms` of received audio. */
async function heard(source, ms) {
  const chunks = [];
  let n = 0;
  for await (const f of source.audio({ sampleRate: 16000, batchMs: 100 })) {
    chunks.push(f.samples);
    n += f.samples.length;
    if (n >= 16 * ms) break;
  }
  const all = new Int16Array(n);
  let o = 0;
  for (const c of chunks) (all.set(c, o), (o += c.length));
  return detectTone(all.subarray(n >> 1), 16000);
}

const near = (hz, want) => typeof hz === 'number' && Math.abs(hz - want) < 20;
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failed++;
};

console.log(`node ${process.version} ${process.platform}-${process.arch}`);

// 1. Loopback call between two peer connections.
{
  const opts = { bindAddresses: ['127.0.0.1'], codecs: ['opus'] };
  const a = new RTCPeerConnection(opts);
  const b = new RTCPeerConnection(opts);
  const connected = (pc) =>
    within(
      new Promise((resolve) =>
        pc.addEventListener('connectionstatechange', () => pc.connectionState === 'connected' && resolve()),
      ),
      10000,
      'connected',
    );
  const up = Promise.all([connected(a), connected(b)]);
  await a.setLocalDescription(await a.createOffer());
  await a.waitForGatheringComplete(2000);
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await b.waitForGatheringComplete(2000);
  await a.setRemoteDescription(b.localDescription);
  await up;
  a.play({ samples: sineWave(1000, 16000, 2500), sampleRate: 16000 });
  b.play({ samples: sineWave(440, 16000, 2500), sampleRate: 16000 });
  const [bHeard, aHeard] = await within(Promise.all([heard(b, 1000), heard(a, 1000)]), 10000, 'tones');
  check(near(bHeard, 1000), `RTCPeerConnection loopback (Opus): a plays 1000 Hz, b detects ${bHeard?.toFixed(1)} Hz`);
  check(near(aHeard, 440), `RTCPeerConnection loopback (Opus): b plays 440 Hz, a detects ${aHeard?.toFixed(1)} Hz`);
  a.close();
  b.close();
}

// 2. SIP.js call on the in-memory link.
if (!process.argv.includes('--root-only')) {
  const { UserAgent, Inviter } = await import('sip.js');
  const { InMemorySipLink, sessionDescriptionHandlerFactory, answerCall, Call } = await import('sipwire/sip');
  const link = new InMemorySipLink();
  const sdh = sessionDescriptionHandlerFactory({
    peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'] },
    iceGatheringTimeout: 1000,
  });
  const ua = (user, delegate) =>
    new UserAgent({
      uri: UserAgent.makeURI(`sip:${user}@smoke.invalid`),
      transportConstructor: link.transportFor(user),
      sessionDescriptionHandlerFactory: sdh,
      logBuiltinEnabled: false,
      delegate,
    });
  let botHeard;
  let botResolve, botReject;
  const botDone = new Promise((resolve, reject) => ((botResolve = resolve), (botReject = reject)));
  const bot = ua('bot', {
    onInvite: async (invitation) => {
      try {
        const call = await answerCall(invitation);
        call.play({ samples: sineWave(600, 16000, 4000), sampleRate: 16000 });
        botHeard = await heard(call, 1000);
        // The caller hangs up once it heard the bot too (hanging up here could cut it short).
        await call.ended;
        botResolve();
      } catch (e) {
        botReject(e);
      }
    },
  });
  await bot.start();
  const caller = ua('caller');
  await caller.start();
  const inviter = new Inviter(caller, UserAgent.makeURI('sip:bot@smoke.invalid'));
  const call = new Call(inviter);
  const established = new Promise((resolve) => call.addEventListener('established', resolve));
  await inviter.invite();
  await within(established, 10000, 'call established');
  call.play({ samples: sineWave(1000, 16000, 4000), sampleRate: 16000 });
  const callerHeard = await within(heard(call, 1000), 10000, 'caller hears the bot');
  await call.hangup();
  await within(botDone, 10000, 'bot hears the caller and the BYE');
  await within(call.ended, 10000, 'BYE');
  check(near(callerHeard, 600), `SIP.js call on the in-memory link: bot plays 600 Hz, caller detects ${callerHeard?.toFixed(1)} Hz`);
  check(near(botHeard, 1000), `SIP.js call on the in-memory link: caller plays 1000 Hz, bot detects ${botHeard?.toFixed(1)} Hz`);
  await caller.stop();
  await bot.stop();
}

console.log(failed ? `smoke FAILED (${failed})` : 'smoke OK');
process.exitCode = failed ? 1 : 0;
