// The browser side of the interop suite: SIP.js 0.21 with its default Web
// transport and Web SessionDescriptionHandler (the browser's own
// RTCPeerConnection, fake microphone), driven from Node through `window.sw`.
// Every function is bounded in time so a stuck call fails the test, not hangs it.
import { UserAgent, Registerer, RegistererState, Inviter, SessionState, Web } from 'sip.js';

const DOMAIN = 'sipwire.invalid';
// Keep the fake microphone's tone intact.
const CONSTRAINTS = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false };
const DTMF_LOW = [697, 770, 852, 941];
const DTMF_HIGH = [1209, 1336, 1477, 1633];
const DTMF_KEYS = ['123A', '456B', '789C', '*0#D'];

const logLines = [];
const note = (msg) => {
  const line = `${(performance.now() / 1000).toFixed(3)} ${msg}`;
  logLines.push(line);
  console.log(`[page] ${msg}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bounded = (p, ms, what) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`page: timed out after ${ms} ms: ${what}`)), ms)))]).finally(() =>
    clearTimeout(t),
  );
};

let ua;
let session = null;
let codecPref = null; // 'opus' | 'pcmu' | null (browser default list)
const invites = [];
const inviteWaiters = [];
const ended = []; // one record per finished session
const infos = []; // SIP INFO bodies received
let mdnsRewrite = false;
const mdnsNames = {};
let lastOffer = null; // SDP bodies seen, for the test's logs
let lastAnswer = null;

const audioCtx = new AudioContext();
let analyser = null;
let dtmfAnalyser = null;
let sourceNode = null;
let oscillatorOut = null; // the 'oscillator' source's destination node

/** Restrict the audio transceivers to one codec (+ telephone-event) with setCodecPreferences. */
function restrictCodecs(pc) {
  if (!codecPref) return;
  const caps = RTCRtpReceiver.getCapabilities('audio').codecs;
  const want = caps.filter((c) => c.mimeType.toLowerCase() === `audio/${codecPref}`);
  const te = caps.filter((c) => c.mimeType.toLowerCase() === 'audio/telephone-event');
  if (want.length === 0) throw new Error(`browser has no ${codecPref}`);
  for (const t of pc.getTransceivers()) {
    if (t.receiver.track.kind === 'audio' && !t.stopped) t.setCodecPreferences([...want, ...te]);
  }
}

/** SDP modifier keeping one codec (and the telephone-event at its clock rate) in every m=audio. */
function onlyCodec(codec) {
  return async (d) => {
    const lines = d.sdp.split(/\r\n/);
    const keep = new Set();
    let rate = null;
    for (const l of lines) {
      const m = /^a=rtpmap:(\d+) ([^/]+)\/(\d+)/.exec(l);
      if (m && m[2].toLowerCase() === codec) (keep.add(m[1]), (rate = m[3]));
    }
    for (const l of lines) {
      const m = /^a=rtpmap:(\d+) telephone-event\/(\d+)/i.exec(l);
      if (m && m[2] === rate) keep.add(m[1]);
    }
    const out = lines
      .map((l) => (l.startsWith('m=audio') ? l.split(' ').filter((x, i) => i < 3 || keep.has(x)).join(' ') : l))
      .filter((l) => {
        const m = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(l);
        return !m || keep.has(m[1]);
      });
    return { type: d.type, sdp: out.join('\r\n') };
  };
}

function attachRemote(stream) {
  const el = document.getElementById('remote');
  el.srcObject = stream;
  el.muted = false;
  el.play().catch((e) => note(`audio element play() failed: ${e.message}`));
  sourceNode?.disconnect();
  sourceNode = audioCtx.createMediaStreamSource(stream);
  analyser = audioCtx.createAnalyser();
  analyser.fftSize = 16384;
  analyser.smoothingTimeConstant = 0;
  dtmfAnalyser = audioCtx.createAnalyser();
  dtmfAnalyser.fftSize = 2048;
  dtmfAnalyser.smoothingTimeConstant = 0;
  sourceNode.connect(analyser);
  sourceNode.connect(dtmfAnalyser);
}

/** SIP.js's default Web SDH factory, wrapped only to apply codec preferences and watch the pc. */
function sdhFactory(mediaStreamFactory) {
  const base = Web.defaultSessionDescriptionHandlerFactory(mediaStreamFactory);
  return (s, options) => {
    const sdh = base(s, options);
    const pc = sdh.peerConnection;
    for (const m of ['createOffer', 'createAnswer']) {
      const orig = pc[m].bind(pc);
      pc[m] = (o) => {
        restrictCodecs(pc);
        return orig(o);
      };
    }
    // Emulate Chromium's mDNS wire format: the SDP that SIP.js sends carries each host
    // candidate's address as a random <uuid>.local name (the browser itself still uses the
    // real socket, so its checks reach the far end from 127.0.0.1).
    const proto = Object.getOwnPropertyDescriptor(RTCPeerConnection.prototype, 'localDescription');
    Object.defineProperty(pc, 'localDescription', {
      get() {
        const d = proto.get.call(pc);
        if (!d || !mdnsRewrite) return d;
        const sdp = d.sdp.replace(/^(a=candidate:\S+ \d+ \S+ \d+ )(\d+\.\d+\.\d+\.\d+)( \d+ typ host)/gm, (_, a, ip, b) => {
          mdnsNames[ip] ??= `${crypto.randomUUID()}.local`;
          return `${a}${mdnsNames[ip]}${b}`;
        });
        return { type: d.type, sdp, toJSON: () => ({ type: d.type, sdp }) };
      },
    });
    pc.addEventListener('track', (e) => attachRemote(new MediaStream([e.track])));
    pc.addEventListener('connectionstatechange', () => note(`pc connectionState ${pc.connectionState}`));
    pc.addEventListener('iceconnectionstatechange', () => note(`pc iceConnectionState ${pc.iceConnectionState}`));
    pc.addEventListener('icecandidate', (e) => e.candidate && note(`local candidate ${e.candidate.candidate}`));
    return sdh;
  };
}

function adopt(s, role) {
  session = s;
  s.sessionDescriptionHandlerOptionsReInvite = { constraints: CONSTRAINTS };
  const rec = { role, state: s.state, endedAt: null };
  s.stateChange.addListener((st) => {
    rec.state = st;
    note(`session ${role} ${st}`);
    if (st === SessionState.Terminated) {
      rec.endedAt = performance.now();
      ended.push(rec);
    }
  });
  s.delegate = {
    ...s.delegate,
    onInfo: (info) => {
      infos.push(info.request.body);
      note(`INFO ${JSON.stringify(info.request.body)}`);
      void info.accept();
    },
  };
  return rec;
}

function onceEstablished(s, ms) {
  return bounded(
    new Promise((resolve, reject) => {
      const check = (st) => {
        if (st === SessionState.Established) resolve();
        else if (st === SessionState.Terminated) reject(new Error('session terminated before it was established'));
      };
      check(s.state);
      s.stateChange.addListener(check);
    }),
    ms,
    'session established',
  );
}

function pcOf() {
  const pc = session?.sessionDescriptionHandler?.peerConnection;
  if (!pc) throw new Error('no current session with a peer connection');
  return pc;
}

async function reinvite(hold) {
  const s = session;
  s.sessionDescriptionHandlerOptionsReInvite = { constraints: CONSTRAINTS, hold };
  await bounded(
    new Promise((resolve, reject) => {
      s.invite({
        requestDelegate: {
          onAccept: () => resolve(),
          onReject: (r) => reject(new Error(`re-INVITE rejected with ${r.message.statusCode}`)),
        },
      }).catch(reject);
    }),
    10000,
    hold ? 'hold' : 'unhold',
  );
  const sdh = s.sessionDescriptionHandler;
  // What SimpleUser does too: a held call neither plays nor captures.
  sdh.enableReceiverTracks?.(!hold);
}

/** Accumulated power spectrum of the remote audio over `ms`. */
async function spectrum(ms) {
  if (!analyser) throw new Error('no remote track yet');
  await audioCtx.resume();
  const n = analyser.frequencyBinCount;
  const acc = new Float64Array(n);
  const buf = new Float32Array(n);
  const td = new Float32Array(analyser.fftSize);
  let frames = 0;
  let rms = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await sleep(50);
    analyser.getFloatFrequencyData(buf);
    for (let i = 0; i < n; i++) acc[i] += Number.isFinite(buf[i]) ? 10 ** (buf[i] / 10) : 0;
    analyser.getFloatTimeDomainData(td);
    let e = 0;
    for (const v of td) e += v * v;
    rms = Math.max(rms, Math.sqrt(e / td.length));
    frames++;
  }
  return { acc, frames, rms, binHz: audioCtx.sampleRate / analyser.fftSize };
}

const dtmfAt = (buf, binHz, f) => {
  const i = Math.round(f / binHz);
  let p = 0;
  for (let k = i - 1; k <= i + 1; k++) p = Math.max(p, Number.isFinite(buf[k]) ? 10 ** (buf[k] / 10) : 0);
  return p;
};

let dtmfListen = null;
let capture = null;

window.sw = {
  log: () => logLines.slice(),
  sdp: () => ({ offer: lastOffer, answer: lastAnswer, local: session?.sessionDescriptionHandler?.peerConnection?.localDescription?.sdp ?? null, remote: session?.sessionDescriptionHandler?.peerConnection?.remoteDescription?.sdp ?? null }),

  /**
   * Register as `user`. source 'mic' (default): getUserMedia on the fake microphone.
   * source 'oscillator': a WebAudio 700 Hz oscillator instead, so the page never gets a
   * capture permission (Chromium reveals host addresses to pages that have one; without
   * it, it hides them behind mDNS .local names).
   */
  async start(wsUrl, user, { source = 'mic', oscillatorHz = 700 } = {}) {
    const mediaStreamFactory =
      source === 'oscillator'
        ? async () => {
            const osc = audioCtx.createOscillator();
            osc.frequency.value = oscillatorHz;
            const gain = audioCtx.createGain();
            gain.gain.value = oscillatorHz > 0 ? 0.25 : 0;
            const dest = audioCtx.createMediaStreamDestination();
            osc.connect(gain).connect(dest);
            osc.start();
            oscillatorOut = dest; // playDtmf() adds its dual tones here
            return dest.stream;
          }
        : undefined;
    ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${user}@${DOMAIN}`),
      transportOptions: { server: wsUrl, connectionTimeout: 3 },
      sessionDescriptionHandlerFactory: sdhFactory(mediaStreamFactory),
      sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] }, iceGatheringTimeout: 3000 },
      logLevel: 'warn',
      delegate: {
        onInvite: (inv) => {
          lastOffer = inv.request.body;
          note(`INVITE from ${inv.remoteIdentity.uri}`);
          const w = inviteWaiters.shift();
          if (w) w(inv);
          else invites.push(inv);
        },
      },
    });
    await bounded(ua.start(), 5000, 'ua.start');
    const r = new Registerer(ua, { expires: 300 });
    const ok = new Promise((resolve) => r.stateChange.addListener((s) => s === RegistererState.Registered && resolve()));
    await r.register();
    await bounded(ok, 5000, 'registered');
    note(`registered as ${user}`);
    return { sampleRate: audioCtx.sampleRate, audioContext: audioCtx.state, userAgent: navigator.userAgent, source };
  },

  /** Call `target`; resolves once established. video: offer the fake camera too (an audio+video offer). */
  async call(target, { codec = null, video = false } = {}) {
    codecPref = codec;
    const inviter = new Inviter(ua, UserAgent.makeURI(`sip:${target}@${DOMAIN}`), {
      sessionDescriptionHandlerOptions: { constraints: video ? { ...CONSTRAINTS, video: true } : CONSTRAINTS },
    });
    adopt(inviter, 'caller');
    await bounded(
      inviter.invite({
        requestDelegate: {
          onAccept: (r) => (lastAnswer = r.message.body),
          onReject: (r) => note(`INVITE rejected ${r.message.statusCode}`),
        },
      }),
      10000,
      'invite sent',
    );
    lastOffer = pcOf().localDescription.sdp;
    await onceEstablished(inviter, 15000);
    return { state: inviter.state };
  },

  /** Wait for an incoming INVITE (does not answer). */
  async waitInvite(ms = 10000) {
    if (invites.length === 0) await bounded(new Promise((r) => inviteWaiters.push((inv) => (invites.push(inv), r()))), ms, 'incoming INVITE');
    return { from: String(invites[0].remoteIdentity.uri), offer: invites[0].request.body };
  },

  /**
   * Answer the pending INVITE; resolves once established and ACKed.
   * codec + via 'prefs': setCodecPreferences; via 'sdp': strip the other codecs from the
   * offer before the browser sees it. setup: pretend the offer said a=setup:<setup>
   * (e.g. 'active' makes the browser the DTLS server).
   */
  async answer({ codec = null, via = 'prefs', setup = null } = {}) {
    codecPref = via === 'prefs' ? codec : null;
    const modifiers = [];
    if (codec && via === 'sdp') modifiers.push(onlyCodec(codec));
    if (setup) modifiers.push(async (d) => ({ type: d.type, sdp: d.sdp.replace(/a=setup:actpass/g, `a=setup:${setup}`) }));
    const inv = invites.shift();
    if (!inv) throw new Error('no pending INVITE');
    adopt(inv, 'callee');
    const acked = new Promise((resolve) => {
      inv.delegate = { ...inv.delegate, onAck: (ack) => (resolve(), ack.accept?.()) };
    });
    if (modifiers.length) inv.sessionDescriptionHandlerModifiersReInvite = modifiers;
    await bounded(inv.accept({ sessionDescriptionHandlerOptions: { constraints: CONSTRAINTS }, sessionDescriptionHandlerModifiers: modifiers }), 15000, 'accept');
    lastAnswer = pcOf().localDescription.sdp;
    await onceEstablished(inv, 15000);
    await bounded(acked, 10000, 'ACK');
    return { state: inv.state };
  },

  hold: () => reinvite(true),
  unhold: () => reinvite(false),

  async hangup() {
    const s = session;
    if (s.state === SessionState.Established) await s.bye();
    else if (s.state === SessionState.Initial || s.state === SessionState.Establishing) await (s.cancel ? s.cancel() : s.reject());
    await bounded(
      new Promise((resolve) => (s.state === SessionState.Terminated ? resolve() : s.stateChange.addListener((st) => st === SessionState.Terminated && resolve()))),
      10000,
      'terminated after hangup',
    );
  },

  /** Resolves with the end record once the current session is over (e.g. the bot sent BYE). */
  async waitEnded(ms = 10000) {
    const s = session;
    await bounded(
      new Promise((resolve) => (s.state === SessionState.Terminated ? resolve() : s.stateChange.addListener((st) => st === SessionState.Terminated && resolve()))),
      ms,
      'session ended',
    );
    return ended[ended.length - 1];
  },

  setMdnsRewrite: (on) => void (mdnsRewrite = on),
  sessionState: () => session?.state ?? null,
  pcState: () => {
    const pc = session?.sessionDescriptionHandler?.peerConnection;
    return pc ? { connectionState: pc.connectionState, signalingState: pc.signalingState } : null;
  },
  endedCount: () => ended.length,
  infos: () => infos.slice(),

  /** RFC 4733 from the browser: RTCDTMFSender on the audio sender. Resolves when played out. */
  async sendDtmf(tones, duration = 100, gap = 70) {
    const sender = pcOf()
      .getSenders()
      .find((s) => s.dtmf);
    // canInsertDTMF turns true once DTLS is up, which may be just after the 200/ACK.
    for (let i = 0; i < 100 && sender?.dtmf && !sender.dtmf.canInsertDTMF; i++) await sleep(50);
    if (!sender?.dtmf?.canInsertDTMF) throw new Error(`RTCDTMFSender cannot insert DTMF (pc ${pcOf().connectionState}; no telephone-event negotiated?)`);
    const done = new Promise((resolve) => {
      sender.dtmf.ontonechange = (e) => e.tone === '' && resolve();
    });
    sender.dtmf.insertDTMF(tones, duration, gap);
    await bounded(done, 5000 + tones.length * (duration + gap), 'DTMF played out');
  },

  /**
   * In-band DTMF: each key as two WebAudio oscillators (the standard row and
   * column frequencies) into the call's 'oscillator' source, `ms` on and `gap`
   * off; no RFC 4733 event is sent. Resolves when the last tone has played.
   */
  async playDtmf(keys, ms = 100, gap = 100) {
    if (!oscillatorOut) throw new Error("playDtmf needs start(..., { source: 'oscillator' })");
    const F = { 1: [697, 1209], 2: [697, 1336], 3: [697, 1477], A: [697, 1633], 4: [770, 1209], 5: [770, 1336], 6: [770, 1477], B: [770, 1633], 7: [852, 1209], 8: [852, 1336], 9: [852, 1477], C: [852, 1633], '*': [941, 1209], 0: [941, 1336], '#': [941, 1477], D: [941, 1633] };
    let t = audioCtx.currentTime + 0.1;
    for (const k of keys) {
      for (const f of F[k]) {
        const osc = audioCtx.createOscillator();
        osc.frequency.value = f;
        const g = audioCtx.createGain();
        g.gain.value = 0.2;
        osc.connect(g).connect(oscillatorOut);
        osc.start(t);
        osc.stop(t + ms / 1000);
      }
      t += (ms + gap) / 1000;
    }
    await sleep((t - audioCtx.currentTime) * 1000 + 50);
  },

  /** Dominant frequency (Hz) of the remote audio over `ms`, null for silence. */
  async tone(ms = 1000) {
    const { acc, frames, rms, binHz } = await spectrum(ms);
    let best = -1;
    let bestP = 0;
    for (let i = Math.ceil(60 / binHz); i < acc.length; i++) if (acc[i] > bestP) ((bestP = acc[i]), (best = i));
    let freq = null;
    if (best > 0 && rms > 1e-3) {
      // Parabolic interpolation on log power for sub-bin accuracy.
      const [a, b, c] = [acc[best - 1], acc[best], acc[best + 1]].map((x) => Math.log(x + 1e-30));
      const d = a - 2 * b + c;
      freq = (best + (d !== 0 ? (0.5 * (a - c)) / d : 0)) * binHz;
    }
    return { freq, rms, frames, sampleRate: audioCtx.sampleRate, contextState: audioCtx.state };
  },

  /** Start decoding DTMF digits (Goertzel-like check of the 8 DTMF bins) in what the browser plays out. */
  dtmfStart() {
    if (!dtmfAnalyser) throw new Error('no remote track yet');
    const digits = [];
    const frames = [];
    let prev = null;
    let run = 0;
    let emitted = false;
    const buf = new Float32Array(dtmfAnalyser.frequencyBinCount);
    const binHz = audioCtx.sampleRate / dtmfAnalyser.fftSize;
    const timer = setInterval(() => {
      dtmfAnalyser.getFloatFrequencyData(buf);
      let total = 0;
      for (const v of buf) total += Number.isFinite(v) ? 10 ** (v / 10) : 0;
      const lows = DTMF_LOW.map((f) => dtmfAt(buf, binHz, f));
      const highs = DTMF_HIGH.map((f) => dtmfAt(buf, binHz, f));
      const li = lows.indexOf(Math.max(...lows));
      const hi = highs.indexOf(Math.max(...highs));
      // Both tones present and carrying most of the energy (3 bins each side of the peaks).
      const key = total > 1e-7 && (lows[li] + highs[hi]) * 3 > 0.5 * total && lows[li] > 0.1 * highs[hi] && highs[hi] > 0.1 * lows[li] ? DTMF_KEYS[li][hi] : null;
      frames.push(key ?? '.');
      if (key === prev) run++;
      else ((prev = key), (run = 1), (emitted = false));
      if (key && run >= 2 && !emitted) ((emitted = true), digits.push(key));
    }, 20);
    dtmfListen = { timer, digits, frames };
  },
  dtmfStop() {
    clearInterval(dtmfListen?.timer);
    const r = { digits: dtmfListen?.digits.join('') ?? '', frames: dtmfListen?.frames.join('') ?? '' };
    dtmfListen = null;
    return r;
  },

  /**
   * Record what the browser plays out (the remote track through WebAudio) until
   * captureStop(), which returns it as base64 16-bit PCM: the test decodes it in Node,
   * free of the page's timer jitter.
   */
  async captureStart() {
    if (!sourceNode) throw new Error('no remote track yet');
    await audioCtx.resume();
    const proc = audioCtx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    proc.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    const mute = audioCtx.createGain();
    mute.gain.value = 0;
    sourceNode.connect(proc);
    proc.connect(mute).connect(audioCtx.destination);
    capture = { proc, mute, chunks };
  },
  captureStop() {
    if (!capture) throw new Error('captureStart() was not called');
    const { proc, mute, chunks } = capture;
    capture = null;
    sourceNode?.disconnect(proc);
    proc.disconnect();
    mute.disconnect();
    const n = chunks.reduce((a, c) => a + c.length, 0);
    const pcm = new Int16Array(n);
    let i = 0;
    for (const c of chunks) for (const v of c) pcm[i++] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
    const bytes = new Uint8Array(pcm.buffer);
    let bin = '';
    for (let k = 0; k < bytes.length; k += 0x8000) bin += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
    return { sampleRate: audioCtx.sampleRate, pcm: btoa(bin) };
  },

  /** The webrtc-stats this suite looks at, as plain JSON. */
  async stats() {
    const report = await pcOf().getStats();
    const all = {};
    report.forEach((s) => (all[s.id] = s));
    const of = (type) => Object.values(all).filter((s) => s.type === type);
    const transport = of('transport')[0] ?? null;
    const inbound = of('inbound-rtp').find((s) => s.kind === 'audio') ?? null;
    const outbound = of('outbound-rtp').find((s) => s.kind === 'audio') ?? null;
    const pair = transport?.selectedCandidatePairId ? all[transport.selectedCandidatePairId] : null;
    return {
      transport,
      inbound,
      outbound,
      inboundCodec: inbound?.codecId ? all[inbound.codecId] : null,
      outboundCodec: outbound?.codecId ? all[outbound.codecId] : null,
      pair,
      localCandidate: pair ? all[pair.localCandidateId] : null,
      remoteCandidate: pair ? all[pair.remoteCandidateId] : null,
      codecs: of('codec'),
      remoteInbound: of('remote-inbound-rtp').find((s) => s.kind === 'audio') ?? null,
      // The fake camera's stream (framesEncoded, framesSent, frameWidth, frameHeight, codecId).
      videoOutbound: of('outbound-rtp').find((s) => s.kind === 'video') ?? null,
      // Video from the far end (framesDecoded, frameWidth, frameHeight, nackCount, pliCount).
      videoInbound: of('inbound-rtp').find((s) => s.kind === 'video') ?? null,
      // What the far end's RTCP sender reports for its video said.
      videoRemoteOutbound: of('remote-outbound-rtp').find((s) => s.kind === 'video') ?? null,
    };
  },
};
window.sw.getStats = window.sw.stats;
note('page ready');
