// Helper process of the two-process sipwire variant: answers offers from the
// parent over IPC, runs the B ends in bot mode, and reports counters, CPU and
// RSS over the media window. Exits when the parent goes away.
import { performance } from 'node:perf_hooks';
import { create, peerConfig } from './sipwire.mjs';

const mode = process.argv[2];
const local = create(mode);
const { RTCPeerConnection } = local.lib;
const codec = mode === 'bot-opus' ? 'opus' : 'pcmu';
const peers = new Map();
let win = null;
const rssBase = process.memoryUsage().rss;
let rssPeak = rssBase;

process.on('disconnect', () => process.exit(0));
process.on('message', async (m) => {
  const reply = (o) => process.send({ req: m.req, ...o });
  try {
    if (m.op === 'ping') return reply({});
    if (m.op === 'offer') {
      const b = new RTCPeerConnection(peerConfig(codec));
      const call = { b, closed: false, sink: 0 };
      peers.set(m.id, call);
      call.up = local.waitConnected(b, m.timeoutMs);
      call.up.catch(() => {});
      await b.setRemoteDescription(m.offer);
      await b.setLocalDescription(await b.createAnswer());
      await b.waitForGatheringComplete(2000);
      return reply({ answer: b.localDescription });
    }
    if (m.op === 'connected') {
      const call = peers.get(m.id);
      await call.up;
      local.startMedia(call.b, call);
      return reply({});
    }
    if (m.op === 'counters') return reply(await local.countPeers([...peers.values()].map((c) => c.b)));
    if (m.op === 'windowStart') {
      win = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), t: setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 250) };
      return reply({});
    }
    if (m.op === 'windowEnd') {
      clearInterval(win.t);
      const cpu = process.cpuUsage(win.cpu);
      rssPeak = Math.max(rssPeak, process.resourceUsage().maxRSS * 1024);
      return reply({ cpuMs: (cpu.user + cpu.system) / 1000, elu: performance.eventLoopUtilization(win.elu).utilization, rssAdded: rssPeak - rssBase });
    }
  } catch (e) {
    reply({ error: String(e?.message ?? e) });
  }
});
