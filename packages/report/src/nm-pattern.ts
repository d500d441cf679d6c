import type { RunRecord } from '@prunebench/harness';
import { markdownTable } from './format.js';
import { methodLabel, targetLabel } from './run-groups.js';

/**
 * Did every completed N:M run hold its pattern? Checked on the final weights by the run (metrics.nmPattern):
 * groups with more than N nonzero weights are violations; layers whose input dimension is not a multiple of M
 * stay dense and are listed.
 */
export function nmPatternMarkdown(records: readonly RunRecord[]): string | null {
  const runs = records.filter((r) => r.status === 'completed' && r.metrics.nmPattern);
  if (runs.length === 0) return null;
  const table = markdownTable(
    ['method', 'target', 'layers with the pattern', 'groups', 'violations', 'left dense'],
    runs.map((r) => {
      const p = r.metrics.nmPattern!;
      return [
        methodLabel(r.description),
        targetLabel(r.description.target),
        String(p.eligibleLayers),
        p.groups.toLocaleString('en-US'),
        p.violations === 0 ? '0' : `**${p.violations}**`,
        p.denseLayers.length ? p.denseLayers.map((name) => `\`${name}\``).join(', ') : '—',
      ];
    }),
  );
  return [
    '### N:M pattern',
    '',
    table,
    '',
    'ONNX Runtime has no N:M (2:4) sparse kernels, so the latency of an N:M model measured there is its dense latency; ' +
      "measuring the 2:4 speed-up needs TensorRT's execution provider with sparsity enabled (`trt_sparsity_enable`), which onnxruntime-node " +
      'cannot give: it does not bundle that provider (`npm run setup -- --cuda` downloads it), and its binding passes TensorRT only a ' +
      'device id, so there too sparsity stays off and the latency is dense.',
  ].join('\n');
}
