// How a connection starts and ends between a sipwire RTCPeerConnection and
// headless Chromium's own (issue #15 items 4, 11, 12), with real UDP on
// 127.0.0.1: wrong DTLS fingerprint, early connectivity checks, and hang-ups
// in both directions. Runs only inside a network namespace with only `lo`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RTCPeerConnection, sineWave, writeWav } from '../dist/index.js';
import { chromiumSkipReason, startPageServer, launchChromium, evaluate } from './support/chromium.mjs';
import { LOOPBACK, tamperFingerprint, waitFor, waitState } from './helpers.mjs';

const skip = await chromiumSkipReason();

describe('sipwire <-> Chromium RTCPeerConnection: connection start and end', { skip, timeout: 300_000 }, () => {
  let server;
  let browser;
  let dir;
  const log = [];
  const ev = (fn, arg, ms, what) => evaluate(browser.page, fn, arg, ms, what);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipwire-chromium-transport-'));
    const toneWav = join(dir, 'mic.wav');
    writeWav(toneWav, sineWave(700, 48000, 5000, 8000), 48000);
    server = await startPageServer();
    browser = await launchChromium({ toneWav, log: (l) => log.push(l) });
    await browser.page.goto(server.url, { timeout: 10000 });
    // A small harness in the page: one RTCPeerConnection at a time, answering
    // our offer with the fake microphone, recording its state changes.
    await ev(() => {
      window.t = {
        async answer(offer) {
          const pc = new RTCPeerConnection();
          const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          pc.addTrack(stream.getAudioTracks()[0], stream);
          const log = [];
          const note = (what) => log.push({ what, at: Date.now() });
          pc.onconnectionstatechange = () => note(`pc:${pc.connectionState}`);
          pc.oniceconnectionstatechange = () => note(`ice:${pc.iceConnectionState}`);
          window.t.pc = pc;
          window.t.log = log;
          await pc.setRemoteDescription({ type: 'offer', sdp: offer });
          await pc.setLocalDescription(await pc.createAnswer());
          const dtls = pc.getSenders()[0].transport;
          dtls.onstatechange = () => note(`dtls:${dtls.state}`);
          note('checking-started');
          if (pc.iceGatheringState !== 'complete')
            await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
          return pc.localDescription.sdp;
        },
        async until(state, ms) {
          const pc = window.t.pc;
          const t0 = Date.now();
          while (pc.connectionState !== state && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 5));
          return pc.connectionState;
        },
      };
    });
    console.log(`chromium ${browser.version}`);
  });

  after(async () => {
    if (process.env.SIPWIRE_INTEROP_VERBOSE) console.log(log.join('\n'));
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** sipwire offers, Chromium answers; returns [pc, answer sdp, when Chromium started checking (epoch ms)]. */
  async function offerToChromium() {
    const pc = new RTCPeerConnection(LOOPBACK);
    await pc.setLocalDescription(await pc.createOffer());
    await pc.waitForGatheringComplete(2000);
    const answer = await ev((o) => window.t.answer(o), pc.localDescription.sdp, 10000, 'chromium answer');
    const started = await ev(() => window.t.log.find((l) => l.what === 'checking-started').at);
    return [pc, answer, started];
  }

  async function connected() {
    const [pc, answer] = await offerToChromium();
    const up = waitState(pc, 'connected', 5000);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await up;
    assert.equal(await ev(() => window.t.until('connected', 5000)), 'connected');
    return pc;
  }

  test('Chromium closes its RTCPeerConnection: sipwire is failed with remote-closed within 1 s', async () => {
    const pc = await connected();
    try {
      const warned = waitFor(pc, 'warning', (e) => e.code === 'remote-closed', 2000);
      const failed = waitState(pc, 'failed', 2000);
      const t0 = performance.now();
      await ev(() => window.t.pc.close());
      const w = await warned;
      await failed;
      const ms = performance.now() - t0;
      console.log(`Chromium close() -> sipwire failed in ${ms.toFixed(1)} ms (${w.message})`);
      assert.ok(ms < 1000, `noticed in ${ms.toFixed(1)} ms`);
    } finally {
      pc.close();
    }
  });

  test('sipwire close() sends close_notify: Chromium\'s DTLS transport is closed within 1 s', async () => {
    const pc = await connected();
    const t0 = Date.now();
    pc.close();
    let seen = [];
    for (let i = 0; i < 60; i++) {
      seen = await ev(() => window.t.log);
      if (seen.some((l) => l.what === 'dtls:closed')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    // Chromium's connectionState follows its ICE consent, not the close_notify: note it.
    const later = await ev(() => window.t.until('failed', 6000).then((s) => ({ s, log: window.t.log })), null, 10000);
    const after = (what) => later.log.find((l) => l.what === what && l.at >= t0);
    const closed = after('dtls:closed');
    console.log(
      `sipwire close() -> Chromium: dtls closed +${closed ? closed.at - t0 : 'never'} ms; ` +
        later.log.filter((l) => l.at >= t0).map((l) => `${l.what} +${l.at - t0} ms`).join(', '),
    );
    await ev(() => window.t.pc.close());
    assert.ok(closed, "Chromium's DTLS transport went closed: our close_notify arrived");
    assert.ok(closed.at - t0 < 1000, `within 1 s (${closed.at - t0} ms)`);
  });

  test('Chromium answers with a wrong fingerprint: sipwire is failed within 5 s with dtls-fingerprint-mismatch', async () => {
    const [pc, answer] = await offerToChromium();
    const states = [];
    pc.addEventListener('connectionstatechange', () => states.push(pc.connectionState));
    try {
      const warned = waitFor(pc, 'warning', (e) => e.code === 'dtls-fingerprint-mismatch', 5000);
      const failed = waitState(pc, 'failed', 5000);
      const t0 = performance.now();
      await pc.setRemoteDescription({ type: 'answer', sdp: tamperFingerprint(answer) });
      const w = await warned;
      await failed;
      const ms = performance.now() - t0;
      const chromium = await ev(() => window.t.log.map((l) => l.what));
      console.log(`wrong fingerprint from Chromium: failed in ${ms.toFixed(1)} ms; sipwire ${states.join(' -> ')}; Chromium ${chromium.join(', ')}`);
      assert.ok(ms < 5000);
      assert.ok(!states.includes('connected'));
      assert.match(w.message, /does not match/);
    } finally {
      pc.close();
      await ev(() => window.t.pc.close());
    }
  });

  test('early checks: Chromium checks 50 ms before sipwire has the answer; connected within 100 ms of applying it', async () => {
    const times = [];
    for (let round = 0; round < 5; round++) {
      const [pc, answer, started] = await offerToChromium();
      try {
        // Chromium has been checking since `started`; hold the answer until 50 ms after that.
        const wait = started + 50 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const up = waitState(pc, 'connected', 3000);
        const applied = Date.now();
        const t0 = performance.now();
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        await up;
        times.push(performance.now() - t0);
        // Only an answer to its early checks (RFC 8445 §7.3) lets Chromium's
        // ICE connect before we had its answer (without one: ~45-65 ms after).
        const ice = (await ev(() => window.t.log)).find((l) => l.what === 'ice:connected');
        assert.ok(ice && ice.at <= applied, `Chromium's ICE connected before the answer was applied (${ice ? ice.at - applied : 'never'} ms)`);
      } finally {
        pc.close();
        await ev(() => window.t.pc.close());
      }
    }
    console.log(`early checks with Chromium: connected ${times.map((t) => t.toFixed(1)).join(', ')} ms after applying the answer`);
    for (const t of times) assert.ok(t < 100, `connected in ${t.toFixed(1)} ms`);
  });
});
