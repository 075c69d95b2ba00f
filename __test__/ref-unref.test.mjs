// ref()/unref() like net.Socket: a child Node process with an open, unref'd
// connection exits by itself; with a ref'd one (the default) it keeps running
// until killed. Ref counting is per connection although the native event
// channel is one for the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

// Runs `body` in a child after creating connections with open sockets
// (a local offer binds them), then prints `ready <open sockets>`. Resolves
// { exited, code, stdout } once the child exits, or, if it is still running
// `holdMs` after printing `ready`, kills it by PID (exited = false). Startup
// on a loaded machine can take seconds, so the window starts at `ready`.
function child(body, holdMs = 2500) {
  const src = `
    const { RTCPeerConnection, nativeResources } = await import(${JSON.stringify(dist)});
    const open = async () => {
      const pc = new RTCPeerConnection({ bindAddresses: ['127.0.0.1'] });
      await pc.setLocalDescription();
      return pc;
    };
    ${body}
    console.log('ready ' + nativeResources().openSockets);
  `;
  const p = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const kill = () => process.kill(p.pid, 'SIGKILL');
  const cap = setTimeout(kill, 60000);
  let hold;
  p.stdout.on('data', (d) => {
    stdout += d;
    if (!hold && /ready/.test(stdout)) hold = setTimeout(kill, holdMs);
  });
  p.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    p.on('exit', (code, signal) => {
      clearTimeout(cap);
      clearTimeout(hold);
      resolve({ exited: signal === null, code, stdout, stderr });
    });
  });
}

test('an open unref()ed connection lets Node exit by itself', async () => {
  const r = await child(`const pc = await open(); assert(pc.unref() === pc);
    function assert(c) { if (!c) throw new Error('unref() must return this'); }`);
  assert.ok(r.exited, `child did not exit by itself: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ready 1/, 'the connection was open (one socket bound) when the script ended');
});

test('an open connection (ref()ed by default) keeps Node running', async () => {
  const r = await child(`await open();`);
  assert.match(r.stdout, /ready 1/);
  assert.equal(r.exited, false, 'child exited although a connection was open');
});

test('ref() after unref() holds the process again', async () => {
  const r = await child(`const pc = await open(); pc.unref(); pc.ref();`);
  assert.match(r.stdout, /ready 1/);
  assert.equal(r.exited, false);
});

test('per connection: one ref()ed connection holds Node although another is unref()ed; unref both and it exits', async () => {
  const held = await child(`const a = await open(); const b = await open(); a.unref();`);
  assert.match(held.stdout, /ready 2/);
  assert.equal(held.exited, false, 'the ref()ed connection must keep Node running');
  const free = await child(`const a = await open(); const b = await open(); a.unref(); b.unref(); a.unref();`);
  assert.ok(free.exited, free.stderr);
  assert.match(free.stdout, /ready 2/);
});

test('unref()ed connections still deliver events while something else keeps Node running', async () => {
  const r = await child(
    `const a = await open(); const b = new RTCPeerConnection({ bindAddresses: ['127.0.0.1'] });
     a.unref(); b.unref();
     const keep = setInterval(() => {}, 1000);
     const up = Promise.all([a, b].map((pc) => new Promise((res) => pc.addEventListener('connectionstatechange', () => pc.connectionState === 'connected' && res()))));
     await b.setRemoteDescription(a.localDescription);
     await b.setLocalDescription();
     await a.setRemoteDescription(b.localDescription);
     await up;
     console.log('connected');
     clearInterval(keep);`,
  );
  assert.ok(r.exited, `child did not exit after the interval was cleared: ${r.stderr}`);
  assert.match(r.stdout, /connected/);
});

test('closing the last ref()ed connection lets an unref()ed one stay open and Node exit', async () => {
  const r = await child(`const a = await open(); const b = await open(); a.unref(); b.close();`);
  assert.ok(r.exited, r.stderr);
  assert.match(r.stdout, /ready/);
});
