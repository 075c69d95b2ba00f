// Streaming a call's audio to a WebSocket server (Twilio Media Streams /
// jambonz listen style) through a real Kamailio call: a local `ws` server
// that echoes (the caller hears itself with bounded delay), one that speaks
// espeak-ng TTS (the caller hears speech; a mark comes back when it has
// played), barge-in by `clear`, reconnect after the server drops the socket,
// and nothing left behind when the call ends.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { sineWave, nativeResources, detectTone, readWav } from '../dist/index.js';
import { startKamailio, kamailioAvailable } from './support/kamailio.mjs';
import { kamailioPair, establish, withTimeout } from './support/sip.mjs';

const skip = kamailioAvailable() ? false : 'kamailio not installed (apt-get install kamailio kamailio-websocket-modules)';
const rms = (x) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / Math.max(1, x.length));

/** A ws server on 127.0.0.1; `onSocket(ws, startMessage)` runs per connection after `start`. */
async function server(onSocket) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const starts = [];
  const marks = [];
  const sockets = [];
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.once('message', (data, isBinary) => {
      assert.equal(isBinary, false, 'start comes first, as text');
      const start = JSON.parse(String(data));
      starts.push(start);
      ws.on('message', (d, bin) => {
        if (!bin) {
          const m = JSON.parse(String(d));
          if (m.event === 'mark') marks.push(m);
        }
      });
      onSocket(ws, start);
    });
  });
  return { url: `ws://127.0.0.1:${wss.address().port}`, starts, marks, sockets, close: () => new Promise((r) => (wss.clients.forEach((c) => c.terminate()), wss.close(r))) };
}

/** Resolves with ms until `call` hears `freq`, or rejects after `ms`. */
async function timeToHear(call, freq, ms = 3000) {
  const t0 = Date.now();
  for await (const f of call.audio({ sampleRate: 16000, batchMs: 20 })) {
    const d = detectTone(f.samples, 16000);
    if (d !== null && Math.abs(d - freq) < freq * 0.03) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`did not hear ${freq} Hz within ${ms} ms`);
  }
  throw new Error('call ended');
}

const until = async (cond, ms, what) =>
  withTimeout(
    (async () => {
      while (!cond()) await new Promise((r) => setTimeout(r, 20));
    })(),
    ms,
    what,
  );

describe('streaming call audio to a WebSocket through Kamailio', { skip, timeout: 180_000 }, () => {
  let kam;
  let alice;
  let bob;
  let stopUas;
  let dir;
  before(async () => {
    kam = await startKamailio();
    ({ alice, bob, stop: stopUas } = await kamailioPair(kam.wsUrl));
    dir = mkdtempSync(join(tmpdir(), 'sipwire-stream-'));
  });
  after(async () => {
    await stopUas?.();
    await kam?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [format, sampleRate] of [
    ['L16', 16000],
    ['PCMU', 8000],
  ]) {
    test(`echo server (${format}/${sampleRate}): the caller hears itself with bounded delay; marks come back`, async () => {
      const srv = await server((ws) => ws.on('message', (d, bin) => bin && ws.send(d)));
      const [a, b] = await establish(alice, bob);
      try {
        const stream = await b.stream(srv.url, { format, sampleRate, metadata: { test: 'echo' } });
        await until(() => srv.starts.length === 1, 3000, 'start at the server');
        assert.deepEqual(
          { ...srv.starts[0], streamId: undefined },
          { event: 'start', streamId: undefined, format, sampleRate, channels: 1, direction: 'sendrecv', reconnect: 0, metadata: { test: 'echo' } },
        );
        const heard = timeToHear(a, 1000);
        a.play({ samples: sineWave(1000, 16000, 20000), sampleRate: 16000 });
        const delay = await heard;
        assert.ok(delay < 1000, `echo heard after ${delay} ms`);
        // A mark after the echoed audio comes back once that audio has played.
        const ws = srv.sockets.at(-1);
        ws.send(JSON.stringify({ event: 'mark', name: 'm1' }));
        await until(() => srv.marks.length === 1, 3000, 'mark back');
        assert.equal(srv.marks[0].name, 'm1');
        assert.equal(srv.marks[0].cleared, false);
        assert.ok(stream.stats.framesSent >= 5, `${stream.stats.framesSent} frames sent`);
      } finally {
        await a.hangup();
        await b.ended;
        await srv.close();
      }
    });
  }

  test('TTS server (espeak-ng): the caller hears the speech, the end mark arrives after it played; clear cuts it short', async () => {
    const wav = join(dir, 'tts.wav');
    const tts = spawnSync('bash', ['-c', `espeak-ng --stdout "Thank you for calling. Your call is important to us." | sox -t wav - -r 16000 -b 16 -c 1 ${wav}`]);
    assert.equal(tts.status, 0, `espeak-ng/sox: ${tts.stderr}`);
    const speech = readWav(wav).samples;
    const speechMs = (speech.length * 1000) / 16000;
    let sentAt = 0;
    const srv = await server((ws, start) => {
      if (start.metadata.part !== 'tts') return;
      // As a TTS service does: the audio in 20 ms chunks as fast as it is made, then a mark.
      for (let i = 0; i < speech.length; i += 320) ws.send(Buffer.from(speech.slice(i, i + 320).buffer));
      ws.send(JSON.stringify({ event: 'mark', name: 'end-of-prompt' }));
      sentAt = Date.now();
    });
    const [a, b] = await establish(alice, bob);
    try {
      const heardP = (async () => {
        const out = [];
        for await (const f of a.audio({ sampleRate: 16000, batchMs: 100 })) {
          out.push(...f.samples);
          if (out.length >= speech.length + 16000) break;
        }
        return Int16Array.from(out);
      })();
      const stream = await b.stream(srv.url, { direction: 'recvonly', metadata: { part: 'tts' } });
      const mark = new Promise((r) => stream.addEventListener('mark', r, { once: true }));
      const heard = await heardP;
      assert.ok(rms(heard) > 0.3 * rms(speech), `speech heard (rms ${rms(heard).toFixed(0)} vs ${rms(speech).toFixed(0)} sent)`);
      await mark;
      await until(() => srv.marks.length === 1, 3000, 'mark back at the server');
      const playedMs = Date.now() - sentAt;
      assert.ok(playedMs >= speechMs * 0.9, `mark after ${playedMs} ms for ${speechMs} ms of speech`);
      assert.equal(srv.marks[0].cleared, false);

      // Barge-in: the server sends the speech again, then clears after 300 ms.
      const ws = srv.sockets.at(-1);
      for (let i = 0; i < speech.length; i += 320) ws.send(Buffer.from(speech.slice(i, i + 320).buffer));
      ws.send(JSON.stringify({ event: 'mark', name: 'second' }));
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      ws.send(JSON.stringify({ event: 'clear' }));
      await until(() => srv.marks.length === 2, 2000, 'cleared mark back');
      assert.equal(srv.marks[1].cleared, true);
      assert.ok(Date.now() - t0 < speechMs / 2, 'the clear cut playback short');
      await stream.stop();
    } finally {
      await a.hangup();
      await b.ended;
      await srv.close();
    }
  });

  test('the server drops the socket: the stream reconnects and says so in start; the call ending ends the stream and frees everything', async () => {
    for (let i = 0; i < 80 && nativeResources().livePeers > 0; i++) await new Promise((r) => setTimeout(r, 25));
    const base = nativeResources();
    let n = 0;
    const srv = await server((ws) => {
      if (n++ === 0) setTimeout(() => ws.terminate(), 100);
      else ws.on('message', (d, bin) => bin && ws.send(d));
    });
    const [a, b] = await establish(alice, bob);
    let stream;
    try {
      stream = await b.stream(srv.url);
      a.play({ samples: sineWave(700, 16000, 20000), sampleRate: 16000 });
      await until(() => srv.starts.length === 2, 5000, 'second start');
      assert.equal(srv.starts[1].reconnect, 1);
      assert.equal(srv.starts[1].streamId, srv.starts[0].streamId);
      assert.ok((await timeToHear(a, 700)) < 2000, 'echo after the reconnect');
    } finally {
      await a.hangup();
      await b.ended;
    }
    await withTimeout(stream.closed, 3000, 'stream closed with the call');
    await until(() => nativeResources().livePeers === base.livePeers && nativeResources().openSockets === base.openSockets, 3000, 'freed');
    await srv.close();
  });
});

