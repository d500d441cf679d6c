// Nx loads a generator with require(). Node 20 cannot strip TypeScript and the workspace has neither swc-node
// nor ts-node, so the generator (generator.ts) is loaded through tsx, a dependency of the workspace already.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = tsxRequire('./generator.ts', __filename);
