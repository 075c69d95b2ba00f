// SIPWIRE_LOG / DEBUG=sipwire* reach stderr: a child process configures a
// TURN server (accepted, relay unsupported) and the warning must be printed,
// and with logging off nothing is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const CHILD = `
  import { RTCPeerConnection } from '../dist/index.js';
  const pc = new RTCPeerConnection({
    bindAddresses: ['127.0.0.1'],
    iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }],
  });
  pc.close();
`;

function run(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      cwd: new URL('.', import.meta.url).pathname,
      env: { ...process.env, SIPWIRE_LOG: '', DEBUG: '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('child hung')); }, 20000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, err }); });
  });
}

test('SIPWIRE_LOG=warn prints the TURN warning as a structured line', async () => {
  const { code, err } = await run({ SIPWIRE_LOG: 'warn' });
  assert.equal(code, 0, err);
  assert.match(err, /^sipwire WARN .*TURN server turn:127\.0\.0\.1:3478 accepted, but relay candidates are not supported/m);
});

test('DEBUG=sipwire* turns logging on, and nothing is printed by default', async () => {
  const on = await run({ DEBUG: 'express,sipwire*' });
  assert.match(on.err, /sipwire WARN .*TURN server/);
  const off = await run({});
  assert.equal(off.code, 0);
  assert.doesNotMatch(off.err, /sipwire (WARN|INFO|DEBUG)/);
});
