// Bundles the GPU machine's benchmark scripts into benchmarks/perf/dist/*.mjs (git-ignored), for
// ../shared/device/pack.sh to ship: the device has node but no TypeScript runner (pack.sh leaves esbuild and tsx
// out), and the workspace packages export their .ts sources. @prunebench/* is bundled in; every other package stays
// an import from node_modules (tfjs, Dawn's webgpu, onnxruntime-node: native code and wasm files).
//   node benchmarks/device/build.mjs        then   bash ../shared/device/pack.sh
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const perf = join(dirname(fileURLToPath(import.meta.url)), '..', 'perf');
export const ENTRY_POINTS = ['compiled-step', 'throughput'];

await build({
  entryPoints: ENTRY_POINTS.map((name) => join(perf, `${name}.ts`)),
  outdir: join(perf, 'dist'),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The scripts find torch_reference.py and results/ beside themselves: the bundles sit one folder lower.
  define: { 'import.meta.dirname': '__perfDir' },
  banner: { js: "const __perfDir = new URL('..', import.meta.url).pathname.replace(/\\/$/, '');" },
  plugins: [{
    name: 'node-modules-external',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@prunebench/') ? undefined : { path: args.path, external: true }));
    },
  }],
  logLevel: 'warning',
});
console.log(`bundled ${ENTRY_POINTS.map((n) => `benchmarks/perf/dist/${n}.mjs`).join(', ')}`);
