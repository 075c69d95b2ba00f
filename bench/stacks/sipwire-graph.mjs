// sipwire media-graph rows. Every "call" of the harness is one unit:
//  - bridge-pcmu: a bridged pair, i.e. two PCMU calls (a1<->b1, b2<->a2) whose
//    b ends are bridged in Rust; a1 and a2 run in bot mode (looped tone,
//    recording to /dev/null), b1 and b2 only relay. Compare with two
//    sipwire-bot-pcmu calls: the target is a bridged pair costing no more.
//  - conf10-pcmu: a 10-party conference, i.e. ten PCMU calls whose b ends
//    sit in one Conference (16 kHz mix); every a end plays and records.
//    CPU per participant = CPU per unit / 10.
//  - stream-pcmu: one PCMU call whose b end streams its audio (L16, 16 kHz)
//    to a WebSocket echo server in this process and plays what comes back;
//    the a end plays and records. The server's CPU is included.
// All four (or twenty) ends count in the packet counters.
import { join } from 'node:path';
import { REPO_DIR } from './common.mjs';
import { create as createBase, peerConfig } from './sipwire.mjs';

const sip = await import(join(REPO_DIR, 'dist', 'index.js'));
const { RTCPeerConnection, sineWave, Conference, streamAudio } = sip;

/** An in-process echo server for stream-pcmu. */
async function echoServer() {
  const { WebSocketServer } = await import(join(REPO_DIR, 'node_modules', 'ws', 'wrapper.mjs'));
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', (d, bin) => bin && ws.send(d)));
  return { url: `ws://127.0.0.1:${wss.address().port}`, close: () => wss.close() };
}

export function create(mode) {
  const base = createBase('idle-pcmu');
  const tone = sineWave(400, 8000, 400);
  const size = mode === 'conf10-pcmu' ? 10 : mode === 'stream-pcmu' ? 1 : 2;
  const server = mode === 'stream-pcmu' ? echoServer() : null;

  async function pair(timeoutMs) {
    const cfg = peerConfig('pcmu');
    const a = new RTCPeerConnection(cfg);
    const b = new RTCPeerConnection(cfg);
    try {
      const up = Promise.all([base.waitConnected(a, timeoutMs), base.waitConnected(b, timeoutMs)]);
      up.catch(() => {});
      await a.setLocalDescription(await a.createOffer());
      await a.waitForGatheringComplete(2000);
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(await b.createAnswer());
      await b.waitForGatheringComplete(2000);
      await a.setRemoteDescription(b.localDescription);
      await up;
    } catch (e) {
      a.close();
      b.close();
      throw e;
    }
    a.startRecording('/dev/null', { sampleRate: 8000 }).catch(() => {});
    a.play({ samples: tone, sampleRate: 8000 }, { loop: true }).catch(() => {});
    return { a, b };
  }

  return {
    ...base,
    name: `sipwire-${mode}`,
    async openCall(_i, timeoutMs) {
      const legs = [];
      try {
        for (let k = 0; k < size; k++) legs.push(await pair(timeoutMs));
      } catch (e) {
        for (const l of legs) (l.a.close(), l.b.close());
        throw e;
      }
      const unit = { legs, closed: false, sink: 0 };
      if (mode === 'bridge-pcmu') legs[0].b.bridge(legs[1].b);
      else if (mode === 'stream-pcmu') unit.stream = streamAudio(legs[0].b, (await server).url, { format: 'L16', sampleRate: 16000 });
      else {
        unit.conf = new Conference({ sampleRate: 16000 });
        for (const l of legs) unit.conf.join(l.b);
      }
      return unit;
    },
    counters: (units) => base.countPeers(units.flatMap((u) => u.legs.flatMap((l) => [l.a, l.b]))),
    closeCall(u) {
      u.closed = true;
      for (const l of u.legs) (l.a.close(), l.b.close());
      u.conf?.close();
      void u.stream?.stop();
    },
    stop() {
      base.stop();
      void server?.then((s) => s.close());
    },
  };
}
