// One vitest configuration for every package: `@prunebench/*` resolves to each package's TypeScript source.
import { readdirSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;
const alias: Record<string, string> = {};
// Test helpers (`@prunebench/<package>/testing`); listed first, since an alias also matches its subpaths.
alias['@prunebench/engine/testing'] = resolve(root, 'packages/engine/src/testing/index.ts');
alias['@prunebench/pruning/testing'] = resolve(root, 'packages/pruning/src/testing.ts');
alias['@prunebench/harness/testing'] = resolve(root, 'packages/harness/src/testing/index.ts');
for (const dir of readdirSync(join(root, 'packages'))) {
  if (dir === 'methods') continue;
  alias[`@prunebench/${dir}`] = resolve(root, 'packages', dir, 'src/index.ts');
}
const methodsDir = join(root, 'packages', 'methods');
if (existsSync(methodsDir)) {
  for (const dir of readdirSync(methodsDir)) alias[`@prunebench/method-${dir}`] = resolve(methodsDir, dir, 'src/index.ts');
}

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2-core machines: tfjs backends are process-global, keep files in separate processes but not too many at once.
    maxWorkers: 2,
    // Two test files run at once on two cores, so each gets one wasm thread (XNNPACK's pool threads spin while
    // they wait, which only burns a shared core); wasm-threads.test.ts starts the threaded build itself.
    env: { PRUNEBENCH_WASM_THREADS: process.env.PRUNEBENCH_WASM_THREADS ?? '1' },
    // A JSON result per Nx project, summed into one closing line by scripts/test-summary.mjs.
    reporters: ['default', 'json'],
    outputFile: { json: resolve(root, 'reports/tmp/vitest', `${(process.env.NX_TASK_TARGET_PROJECT ?? 'all').replace(/[^a-z0-9-]+/gi, '_')}.json`) },
  },
});
