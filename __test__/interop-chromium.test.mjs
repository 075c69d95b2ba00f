// Interop with a real browser: headless Debian Chromium runs SIP.js 0.21 with its
// own RTCPeerConnection and a fake microphone (a 700 Hz tone), registers to a
// throwaway Kamailio over ws://127.0.0.1, and calls / is called by a sipwire bot.
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sineWave, writeWav, nativeResources } from '../dist/index.js';
import { answerCall, WsTransport } from '../dist/sip.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { Party, heardTone, near, inboundPackets, onceState, withTimeout, SessionState } from './support/sip.mjs';
import { chromiumSkipReason, startPageServer, launchChromium, evaluate } from './support/chromium.mjs';

const MIC_HZ = 700; // the fake microphone
const BOT_HZ = 1000; // what the bot plays
const skip = !kamailioAvailable() ? 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)' : await chromiumSkipReason();
const tone = (freq, ms = 60000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const settled = async (base) => {
  for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await sleep(25);
};

describe('interop: SIP.js in headless Chromium <-> sipwire bot through Kamailio', { skip, timeout: 600_000 }, () => {
  let kam;
  let server;
  let dir;
  let toneWav;
  let bot;
  let BASE; // nativeResources() of the registered bot before any call
  let web; // the main browser: mDNS off, registered as 'web'
  const pageLog = [];
  const ev = (fn, arg, ms, what) => evaluate(web.page, fn, arg, ms, what);

  /** A Chromium with the SIP.js page, registered as `user`; `ev` runs a function in the page. */
  async function openBrowser(user, { mdns = false, source = 'mic' } = {}) {
    const b = await launchChromium({ toneWav, mdns, fakeMic: source === 'mic', log: (l) => pageLog.push(`[${user}] ${l}`) });
    b.user = user;
    b.ev = (fn, arg, ms, what) => evaluate(b.page, fn, arg, ms, what);
    try {
      console.log(`chromium ${b.version} pid ${b.pid} (${user}, mDNS ${mdns ? 'on' : 'off'})`);
      await b.page.goto(server.url, { timeout: 10000 });
      await b.page.waitForFunction(() => window.sw, null, { timeout: 10000 });
      const info = await b.ev((a) => window.sw.start(a.ws, a.user, { source: a.source }), { ws: kam.wsUrl, user, source }, 15000, 'register');
      console.log(`page ${user}: ${JSON.stringify(info)}`);
    } catch (e) {
      await b.close();
      throw e;
    }
    return b;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipwire-interop-'));
    toneWav = join(dir, 'mic-700hz.wav');
    writeWav(toneWav, sineWave(MIC_HZ, 48000, 5000, 8000), 48000);
    kam = await startKamailio();
    server = await startPageServer();
    bot = new Party('bot', { transportConstructor: WsTransport, transportOptions: { server: kam.wsUrl, connectionTimeout: 3 } });
    await bot.start(true);
    BASE = nativeResources();
    web = await openBrowser('web');
  });

  after(async () => {
    if (process.env.SIPWIRE_INTEROP_VERBOSE) console.log(pageLog.join('\n'));
    await web?.close();
    await bot?.stop().catch(() => {});
    await kam?.stop();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The browser calls the bot; returns the bot's Call once both sides are established and ACKed. */
  async function browserCallsBot({ codec = null } = {}, w = web) {
    const calling = w.ev((a) => window.sw.call('bot', a), { codec }, 30000, 'browser call');
    const inv = await bot.nextInvite();
    const acked = new Promise((resolve) => (inv.delegate = { ...inv.delegate, onAck: (ack) => (resolve(), ack.accept?.()) }));
    const call = await answerCall(inv);
    await calling;
    await onceState(inv, SessionState.Established);
    await withTimeout(acked, 10000, 'ACK at the bot');
    return call;
  }

  /** The bot calls the browser; returns the bot's Call once established. */
  async function botCallsBrowser(answerOptions = {}, w = web) {
    const dialing = bot.dial(w.user);
    await w.ev(() => window.sw.waitInvite(10000), undefined, 15000, 'INVITE at the page');
    const call = await dialing;
    await w.ev((a) => window.sw.answer(a), answerOptions, 30000, 'browser answer');
    await onceState(call.session, SessionState.Established);
    return call;
  }

  const pageStats = (w = web) => w.ev(() => window.sw.stats(), undefined, 10000, 'getStats');
  const pageTone = (ms = 1200, w = web) => w.ev((m) => window.sw.tone(m), ms, ms + 10000, 'page tone');
  const pageInbound = async (w = web) => (await pageStats(w)).inbound?.packetsReceived ?? 0;
  const pageSdp = (w = web) => w.ev(() => window.sw.sdp(), undefined, 5000, 'sdp');

  async function logDtls(label) {
    const s = await pageStats();
    const t = s.transport ?? {};
    console.log(
      `${label}: DTLS ${t.tlsVersion} (${t.dtlsRole}) cipher ${t.dtlsCipher}, SRTP ${t.srtpCipher}, dtlsState ${t.dtlsState}; ` +
        `codec in ${s.inboundCodec?.mimeType}/${s.inboundCodec?.clockRate} out ${s.outboundCodec?.mimeType}/${s.outboundCodec?.clockRate}; ` +
        `pair ${s.localCandidate?.address}:${s.localCandidate?.port} (${s.localCandidate?.candidateType}) -> ${s.remoteCandidate?.address}:${s.remoteCandidate?.port} (${s.remoteCandidate?.candidateType})`,
    );
    return s;
  }

  async function dump(call, label) {
    const sdp = await ev(() => window.sw.sdp(), undefined, 5000, 'sdp').catch((e) => ({ error: e.message }));
    const bs = call ? [...(await call.stats().catch(() => new Map())).values()] : [];
    const ps = await pageStats().catch((e) => ({ error: e.message }));
    console.log(`--- ${label} diagnostics ---\npage offer:\n${sdp.offer}\npage answer:\n${sdp.answer}\npage local:\n${sdp.local}\npage remote:\n${sdp.remote}`);
    console.log(`bot local:\n${call?.peerConnection?.localDescription?.sdp}\nbot remote:\n${call?.peerConnection?.remoteDescription?.sdp}`);
    console.log(`bot stats: ${JSON.stringify(bs)}\npage stats: ${JSON.stringify(ps)}`);
  }

  /** codecMime: what each side sends; sendMime: what the browser sends, if different. */
  async function tonesBothWays(call, label, codecMime, sendMime = codecMime) {
    call.play(tone(BOT_HZ));
    const [botHeard, page] = await Promise.all([withTimeout(heardTone(call, 1000), 8000, 'bot heard audio'), pageTone(1500)]).catch(async (e) => {
      await dump(call, label);
      throw e;
    });
    const s = await logDtls(label);
    assert.equal(s.transport?.dtlsState, 'connected');
    assert.equal(s.transport?.tlsVersion, 'FEFD', 'DTLS 1.2');
    assert.ok(s.transport?.srtpCipher, 'an SRTP profile was negotiated');
    assert.equal(s.inboundCodec?.mimeType?.toLowerCase(), codecMime);
    assert.equal(s.outboundCodec?.mimeType?.toLowerCase(), sendMime);
    const botCodec = [...(await call.stats()).values()].find((x) => x.type === 'codec');
    console.log(`${label}: bot heard ${botHeard?.toFixed(1)} Hz, page heard ${page.freq?.toFixed(1)} Hz (rms ${page.rms.toFixed(4)}), bot codec ${botCodec?.mimeType}`);
    assert.ok(near(botHeard, MIC_HZ), `bot heard ${botHeard} Hz, wanted the browser's ${MIC_HZ} Hz`);
    assert.ok(near(page.freq, BOT_HZ), `page heard ${page.freq} Hz, wanted the bot's ${BOT_HZ} Hz`);
    return s;
  }


  for (const [label, opts, mime] of [
    ['Opus', {}, 'audio/opus'],
    ['PCMU (setCodecPreferences)', { codec: 'pcmu' }, 'audio/pcmu'],
  ]) {
    test(`browser calls bot, ${label}: connected, tones both ways, browser hangs up`, { timeout: 60000 }, async () => {
      const base = BASE; // handles of the bot with no call up
      const call = await browserCallsBot(opts);
      await tonesBothWays(call, `browser->bot ${label}`, mime);
      await ev(() => window.sw.hangup(), undefined, 15000, 'browser BYE');
      await withTimeout(call.ended, 10000, 'bot saw the BYE');
      assert.equal(await ev(() => window.sw.sessionState()), 'Terminated');
      await settled(base);
      assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
    });
  }

  for (const [label, opts, mime, sendMime] of [
    ['Opus', {}, 'audio/opus'],
    ['PCMU (offer stripped to PCMU by an SDP modifier)', { codec: 'pcmu', via: 'sdp' }, 'audio/pcmu'],
    // Chromium answers PCMU only, yet sends Opus (PT 111, listed in the bot's offer): JSEP lets
    // it send what the remote side offered. The bot must decode a format it offered.
    ['PCMU (setCodecPreferences on the answer; Chromium still sends Opus)', { codec: 'pcmu', via: 'prefs' }, 'audio/pcmu', 'audio/opus'],
    ['Opus, browser as DTLS server (offer read as a=setup:active)', { setup: 'active' }, 'audio/opus'],
  ]) {
    test(`bot calls browser, ${label}: connected, tones both ways, bot hangs up`, { timeout: 60000 }, async () => {
      const base = BASE; // handles of the bot with no call up
      const call = await botCallsBrowser(opts);
      try {
        const s = await tonesBothWays(call, `bot->browser ${label}`, mime, sendMime);
        if (opts.setup === 'active') assert.equal(s.transport.dtlsRole, 'server');
      } finally {
        await call.hangup();
      }
      await withTimeout(call.ended, 10000, 'bot call ended');
      const rec = await ev(() => window.sw.waitEnded(10000), undefined, 15000, 'page saw the BYE');
      assert.equal(rec.state, 'Terminated');
      await settled(base);
      assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
    });
  }

  test("DTMF: RTCDTMFSender digits reach the bot; the bot's RFC 4733 digits are played out by the browser", { timeout: 60000 }, async () => {
    const call = await browserCallsBot();
    try {
      const got = [];
      call.addEventListener('dtmf', (e) => got.push(`${e.digit}:${e.method}`));
      await ev(() => window.sw.sendDtmf('159#*0AD', 100, 70), undefined, 15000, 'browser DTMF');
      await sleep(500);
      assert.deepEqual(got, [...'159#*0AD'].map((d) => `${d}:rfc4733`), 'digits from RTCDTMFSender, each once');

      // Browsers fire no event for received RFC 4733; libwebrtc's NetEq renders
      // telephone-events as DTMF tones, so the page decodes the two frequencies.
      await ev(() => window.sw.dtmfStart());
      await call.sendDtmf('1593', { duration: 200, interToneGap: 150 });
      await sleep(400);
      const heard = await ev(() => window.sw.dtmfStop());
      console.log(`bot->browser DTMF: page decoded ${JSON.stringify(heard.digits)} (frames ${heard.frames})`);
      assert.equal(heard.digits, '1593');
    } finally {
      await call.hangup();
      await call.ended;
    }
  });

  test("RTCP both ways: the bot reads Chromium's receiver reports (RTT) and Chromium reads the bot's", { timeout: 60000 }, async () => {
    const call = await browserCallsBot();
    try {
      call.play(tone(BOT_HZ, 1000), { loop: true });
      // Reports come every few seconds (first after ~1 s); an RTT needs one SR
      // echoed back, so poll both sides' stats for a bounded time.
      const deadline = Date.now() + 20000;
      let bot = null;
      let page = null;
      while (!(bot && page) && Date.now() < deadline) {
        bot ??= [...(await call.stats()).values()].find((s) => s.type === 'remote-inbound-rtp' && s.roundTripTimeMeasurements > 0) ?? null;
        const ri = (await pageStats()).remoteInbound;
        if (ri?.roundTripTime != null) page = ri;
        if (!(bot && page)) await sleep(250);
      }
      console.log(`RTCP: bot sees RTT ${bot?.roundTripTime} s, loss ${bot?.packetsLost}; Chromium sees RTT ${page?.roundTripTime} s, loss ${page?.packetsLost}`);
      assert.ok(bot, "the bot got Chromium's report blocks about its stream, with an RTT");
      assert.ok(bot.roundTripTime >= 0 && bot.roundTripTime < 0.1, `bot RTT ${bot.roundTripTime}`);
      assert.equal(bot.packetsLost, 0);
      assert.ok(page, "Chromium got the bot's report blocks about its stream, with an RTT");
      assert.ok(page.roundTripTime >= 0 && page.roundTripTime < 0.1, `Chromium RTT ${page.roundTripTime}`);
    } finally {
      await call.hangup();
      await call.ended;
    }
  });

  test('hold and unhold from the browser, then from the bot: media stops and resumes, no ICE restart; bot hangs up', { timeout: 90000 }, async () => {
    const base = BASE; // handles of the bot with no call up
    const call = await browserCallsBot();
    const ufrag = (sdp) => /a=ice-ufrag:(\S+)/.exec(sdp)[1];
    const ufrags = [ufrag(call.peerConnection.localDescription.sdp), ufrag((await pageSdp()).local)];
    try {
      call.play(tone(BOT_HZ, 120000));
      assert.ok(near((await pageTone()).freq, BOT_HZ), 'page hears the bot before hold');

      // The browser holds (SIP.js re-INVITE, a=sendonly); the bot answers recvonly and goes quiet.
      await ev(() => window.sw.hold(), undefined, 15000, 'browser hold');
      assert.match((await pageSdp()).local, /a=sendonly/);
      assert.match(call.peerConnection.localDescription.sdp, /a=recvonly/);
      await sleep(300);
      let p0 = await pageInbound();
      await sleep(600);
      const whileHeldByBrowser = (await pageInbound()) - p0;
      assert.ok(whileHeldByBrowser <= 2, `the bot stopped sending to the browser that holds (${whileHeldByBrowser} packets in 600 ms)`);
      assert.ok(near(await withTimeout(heardTone(call), 8000, 'bot audio'), MIC_HZ), 'the bot still hears the browser (sendonly)');
      await ev(() => window.sw.unhold(), undefined, 15000, 'browser unhold');
      assert.match(call.peerConnection.localDescription.sdp, /a=sendrecv/);
      assert.ok(near((await pageTone()).freq, BOT_HZ), 'page hears the bot again after unhold');

      // The bot holds (re-INVITE a=sendonly); Chromium answers recvonly and stops sending.
      await call.hold();
      assert.match(call.peerConnection.localDescription.sdp, /a=sendonly/);
      assert.match((await pageSdp()).local, /a=recvonly/);
      await sleep(300);
      p0 = await inboundPackets(call);
      await sleep(600);
      const whileHeldByBot = (await inboundPackets(call)) - p0;
      assert.ok(whileHeldByBot <= 2, `the browser stopped sending to the bot that holds (${whileHeldByBot} packets in 600 ms)`);
      assert.ok(near((await pageTone()).freq, BOT_HZ), 'the held browser hears the music on hold');
      await call.unhold();
      assert.match((await pageSdp()).local, /a=sendrecv/);
      assert.ok(near(await withTimeout(heardTone(call), 8000, 'bot audio'), MIC_HZ), 'the bot hears the browser again after unhold');

      assert.deepEqual([ufrag(call.peerConnection.localDescription.sdp), ufrag((await pageSdp()).local)], ufrags, 'no ICE restart');
      assert.equal(call.peerConnection.connectionState, 'connected');
      assert.equal((await ev(() => window.sw.pcState())).connectionState, 'connected');
      console.log(`hold: ${whileHeldByBrowser} packets to the browser while it held, ${whileHeldByBot} to the bot while it held`);
    } finally {
      await call.hangup(); // the bot ends a call the browser placed
    }
    await withTimeout(call.ended, 10000, 'bot call ended');
    assert.equal((await ev(() => window.sw.waitEnded(10000), undefined, 15000, 'page saw the BYE')).state, 'Terminated');
    await settled(base);
    assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
  });

  test('the browser ends a call the bot placed: both see the end, no leaked handles', { timeout: 60000 }, async () => {
    const base = BASE; // handles of the bot with no call up
    const call = await botCallsBrowser();
    call.play(tone(BOT_HZ));
    assert.ok(near((await pageTone()).freq, BOT_HZ));
    await ev(() => window.sw.hangup(), undefined, 15000, 'browser BYE');
    await withTimeout(call.ended, 10000, 'bot saw the BYE');
    assert.equal(call.session.state, SessionState.Terminated);
    await settled(base);
    assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
  });

  /**
   * One call each way with browser `b`; returns the outcomes. A clean outcome is either
   * media both ways, or the bot's `mediafailed` followed by the end of the call on both sides.
   */
  async function mdnsCalls(b, label, { expectLocal }) {
    const base = BASE; // handles of the bot with no call up
    const outcomes = {};
    for (const dirn of ['browser->bot', 'bot->browser']) {
      const failed = [];
      const call = dirn === 'browser->bot' ? await browserCallsBot({}, b) : await botCallsBrowser({}, b);
      call.addEventListener('mediafailed', (e) => failed.push(e.reason));
      const sdp = await pageSdp(b);
      const sent = (dirn === 'browser->bot' ? sdp.offer : sdp.answer) ?? '';
      const cands = sent.split(/\r?\n/).filter((l) => l.startsWith('a=candidate'));
      const local = cands.filter((l) => /^a=candidate:\S+ \d+ \S+ \d+ \S+\.local /i.test(l));
      const botRemote = (call.peerConnection?.remoteDescription?.sdp ?? '').split(/\r?\n/).filter((l) => l.startsWith('a=candidate'));
      console.log(`${label} ${dirn}: browser sent candidates ${JSON.stringify(cands)}; bot's remoteDescription keeps ${JSON.stringify(botRemote)}`);
      if (expectLocal) {
        assert.ok(local.length > 0, 'the browser SDP carries .local candidates');
        assert.ok(bot.warnings.some((w) => /skipped remote candidate \(mdns\).*\.local/.test(w)), `the bot reported the skipped .local candidates: ${bot.warnings.join(' | ')}`);
        // remoteDescription is the SDP as given (W3C); what the bot used shows in the outcome.
      }
      call.play(tone(BOT_HZ));
      const t0 = Date.now();
      const outcome = await withTimeout(
        Promise.race([
          withTimeout(heardTone(call, 1000), 60000, 'bot audio').then((f) => ({ kind: 'media', botHeard: f })),
          call.ended.then(() => ({ kind: 'ended' })),
        ]),
        65000,
        `an outcome of the ${label} call`,
      );
      if (outcome.kind === 'media') {
        const pt = await pageTone(1200, b);
        const s = await pageStats(b);
        const bs = [...(await call.stats()).values()];
        console.log(
          `${label} ${dirn}: CONNECTED after ${Date.now() - t0} ms; bot heard ${outcome.botHeard?.toFixed(1)} Hz, page heard ${pt.freq?.toFixed(1)} Hz; ` +
            `browser pair ${s.localCandidate?.address}:${s.localCandidate?.port} (${s.localCandidate?.candidateType}) -> ` +
            `${s.remoteCandidate?.address}:${s.remoteCandidate?.port} (${s.remoteCandidate?.candidateType}); bot candidates ${JSON.stringify(bs.filter((x) => /candidate/.test(x.type)).map((x) => `${x.type} ${x.address}:${x.port} ${x.candidateType}`))}`,
        );
        assert.ok(near(outcome.botHeard, MIC_HZ), `bot heard ${outcome.botHeard}`);
        assert.ok(near(pt.freq, BOT_HZ), `page heard ${pt.freq}`);
        await call.hangup();
        await withTimeout(call.ended, 10000, 'bot call ended');
      } else {
        console.log(`${label} ${dirn}: FAILED CLEANLY after ${Date.now() - t0} ms; bot mediafailed ${JSON.stringify(failed)}`);
        assert.ok(failed.length > 0, 'the bot reported why the media failed');
      }
      outcomes[dirn] = outcome.kind === 'media' ? 'connected' : `failed cleanly (${failed.join(',')})`;
      assert.equal((await b.ev(() => window.sw.waitEnded(10000), undefined, 15000, 'page saw the end')).state, 'Terminated');
      await settled(base);
      assert.deepEqual(nativeResources(), base, 'bot freed its sockets and peers');
    }
    return outcomes;
  }

  test('mDNS-style .local candidates (host address rewritten as Chromium does): skipped by the bot, call connects via peer-reflexive', { timeout: 120000 }, async () => {
    await ev(() => window.sw.setMdnsRewrite(true));
    try {
      const o = await mdnsCalls(web, 'mDNS-rewritten', { expectLocal: true });
      console.log(`mDNS-rewritten outcome: ${JSON.stringify(o)}`);
      assert.deepEqual(o, { 'browser->bot': 'connected', 'bot->browser': 'connected' });
    } finally {
      await ev(() => window.sw.setMdnsRewrite(false));
    }
  });

  for (const [label, opts] of [
    ['mic permission', { source: 'mic' }],
    ['no capture permission (WebAudio source)', { source: 'oscillator' }],
  ]) {
    test(`Chromium with mDNS left on (default), ${label}: a clean outcome, no crash`, { timeout: 180000 }, async () => {
      const b = await openBrowser(`webmdns${opts.source}`, { mdns: true, ...opts });
      try {
        const o = await mdnsCalls(b, `mDNS-on/${opts.source}`, { expectLocal: false });
        console.log(`mDNS on, ${label}: outcome ${JSON.stringify(o)}`);
      } finally {
        await b.close();
      }
    });
  }
});
