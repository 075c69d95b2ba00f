// The generated index.d.ts types native events and states precisely (from the
// Rust enums in src/napi/events.rs): each event kind has only its own fields,
// and states are W3C string unions. Compiled under `strict` with the real
// TypeScript compiler: the good snippet must compile, each bad one must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ts = require('typescript');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Type-check `code` (as a file beside index.d.ts); the diagnostics' messages. */
function check(code) {
  const file = path.join(root, '__native_types_check__.ts');
  const options = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => (path.resolve(f) === file ? code : read(f));
  const exists = host.fileExists.bind(host);
  host.fileExists = (f) => path.resolve(f) === file || exists(f);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const header = `import type { NativeEvent, RTCSignalingState, RTCPeerConnectionState } from './index';\n`;

test('native events narrow by type and states are W3C unions', () => {
  const good = `${header}
export function use(ev: NativeEvent): string {
  switch (ev.type) {
    case 'dtmf': return ev.digit;
    case 'tonechange': return ev.tone;
    case 'warning': return ev.message + (ev.code ?? '');
    case 'audio': return String(ev.samples.length / ev.sampleRate);
    case 'playended': return String(ev.id) + String(ev.stopped);
    case 'gatheringwaitdone': return String(ev.id);
    case 'icecandidate': return ev.candidate ?? '';
    case 'signalingstatechange': { const s: RTCSignalingState = ev.state; return s; }
    case 'connectionstatechange': { const s: RTCPeerConnectionState = ev.state; return s; }
    case 'icegatheringstatechange': case 'iceconnectionstatechange': return ev.state;
    case 'rtptimeout': return String(ev.pc);
    case 'speechstart': return String(ev.pc);
    case 'speechend': return String(ev.ms);
    case 'tonedetected': return String(ev.id) + String(ev.hz);
    case 'beep': return String(ev.hz);
    case 'amd': return String(ev.id) + ev.verdict + String(ev.ms);
  }
}
`;
  assert.deepEqual(check(good), []);
});

for (const [name, body] of [
  ['a field of another event kind', `export const f = (ev: NativeEvent) => ev.type === 'dtmf' ? ev.samples : null;`],
  ['a state that is not W3C', `export const s: RTCSignalingState = 'have-local-pranswer-typo';`],
  ['an event type that does not exist', `export const f = (ev: NativeEvent) => ev.type === 'dtmfreceived';`],
]) {
  test(`rejects ${name}`, () => {
    assert.notDeepEqual(check(header + body), [], `should not compile: ${body}`);
  });
}
