// Builds the native addon and the TypeScript facade after `npm install` in a
// clone, so `npm install && npm run demo` works on a fresh machine.
// Set SIPWIRE_SKIP_BUILD=1 to skip (CI builds explicitly).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (process.env.SIPWIRE_SKIP_BUILD === '1') process.exit(0);
if (!existsSync(new URL('../Cargo.toml', import.meta.url))) process.exit(0); // installed as a dependency
const run = (args) => {
  const r = spawnSync('npm', ['run', ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run(['build']);
