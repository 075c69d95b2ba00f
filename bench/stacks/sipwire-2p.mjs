// sipwire, two-process variant: the offering ends live in this (child)
// process, the answering ends in a forked helper (sipwire-2p-peer.mjs);
// SDP travels over the IPC channel, media over 127.0.0.1 between processes.
// Bot mode as in sipwire.mjs (tone via play(), record to /dev/null). The
// helper reports its own counters, CPU and RSS so the figures cover both ends.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { create as createLocal, peerConfig } from './sipwire.mjs';
import { BENCH_DIR, mergeHist } from './common.mjs';

export function create(mode) {
  const local = createLocal(mode); // reuse its media start and counters for the A ends
  const codec = mode === 'bot-opus' ? 'opus' : 'pcmu';
  const helper = fork(join(BENCH_DIR, 'stacks', 'sipwire-2p-peer.mjs'), [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let seq = 0;
  helper.on('message', (m) => {
    const p = pending.get(m.req);
    if (!p) return;
    pending.delete(m.req);
    m.error ? p.reject(new Error(m.error)) : p.resolve(m);
  });
  const ask = (msg) =>
    new Promise((resolve, reject) => {
      const req = ++seq;
      pending.set(req, { resolve, reject });
      helper.send({ ...msg, req });
    });
  const { RTCPeerConnection } = local.lib;

  return {
    name: `sipwire-2p-${mode}`,
    delay: 'histogram', // Rust abs-send-time across the two processes (one host clock)
    ready: ask({ op: 'ping' }),
    async openCall(i, timeoutMs) {
      const a = new RTCPeerConnection(peerConfig(codec));
      const call = { a, b: null, id: i, closed: false, sink: 0 };
      try {
        const up = local.waitConnected(a, timeoutMs);
        up.catch(() => {});
        await a.setLocalDescription(await a.createOffer());
        await a.waitForGatheringComplete(2000);
        const { answer } = await ask({ op: 'offer', id: i, offer: a.localDescription, timeoutMs });
        await a.setRemoteDescription(answer);
        await Promise.all([up, ask({ op: 'connected', id: i, timeoutMs })]);
      } catch (e) {
        a.close();
        throw e;
      }
      local.startMedia(a, call);
      return call;
    },
    async counters(calls) {
      const mine = await local.countPeers(calls.map((c) => c.a));
      const theirs = await ask({ op: 'counters' });
      const delayHist = mergeHist(mine.delayHist, theirs.delayHist);
      return { sent: mine.sent + theirs.sent, recv: mine.recv + theirs.recv, lost: mine.lost + theirs.lost, jitter: [...mine.jitter, ...theirs.jitter], delayHist };
    },
    windowStart: () => ask({ op: 'windowStart' }),
    windowEnd: () => ask({ op: 'windowEnd' }),
    closeCall(c) {
      c.closed = true;
      c.a.close();
    },
    stop() {
      helper.kill(); // our own fork, by its handle
    },
  };
}
