/**
 * Loads the generated napi binding (`index.js` / `index.d.ts` at the package
 * root, produced by `napi build`; never edited by hand).
 * @packageDocumentation
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('../index') = require('../index.js');
export = binding;
