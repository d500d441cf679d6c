import type { RunRecord } from '@prunebench/harness';
import { markdownTable } from './format.js';
import { methodLabel } from './run-groups.js';

/**
 * Do two stores of the same suite, run on two backends (e.g. webgpu and wasm), give the same leaderboard?
 *
 * Both backends compute in float32, but with different kernels and reduction orders, so values differ by
 * rounding (≈1e-6 relative per op, ≈1e-5 after a few SGD steps). What must therefore be identical:
 * - the set of runs and their status (every run completed on both);
 * - parameter counts (total, nonzero): every method meets its target exactly;
 * - the masks themselves (the zero pattern of the final weights), and so the MACs, wherever they are chosen from
 *   the starting weights or the seed alone, before any training: one-shot magnitude (every allocation) and random.
 * What may differ, within a tolerance:
 * - masks chosen after training (iterative schedules, LTH, SNIP's gradients, SAFE, structured methods' ranks and
 *   CKA): where scores tie to within rounding a weight may be kept on one backend and its neighbour on the other,
 *   so at most `maskFraction` (default 1e-3) of the kept weights may differ, and the effective MACs by the same
 *   relative amount;
 * - the quality (top-1 …): by at most `qualityExamples` test examples changing their prediction (default 1),
 *   i.e. |Δ| ≤ qualityExamples / testExamples — a prediction flips only where its top two logits are closer
 *   than the rounding differences;
 * - the flatness loss increases: |Δ| ≤ `flatnessTolerance` (default 0.02) in absolute loss.
 */
export interface AgreementOptions {
  qualityExamples?: number;
  flatnessTolerance?: number;
  maskFraction?: number;
}

export interface AgreementRow {
  id: string;
  label: string;
  backends: [string, string];
  quality: [number | null, number | null];
  /** Zero-pattern differences of the final weights, when both were compared; null when not read. */
  maskDifferences: number | null;
  /** Must the masks be identical for this run (see above)? */
  masksMustMatch: boolean;
  problems: string[];
}

/** Final weights of a run, by parameter name, or null when the run has none stored. */
export type FinalWeights = (store: 'a' | 'b', record: RunRecord) => Promise<ReadonlyMap<string, Float32Array> | null>;

/** True when the run's masks depend only on the starting weights and the seed (chosen before any training). */
export function masksChosenBeforeTraining(record: RunRecord): boolean {
  const method = record.description.method;
  const options = record.description.options as { schedule?: string };
  if (method === 'random') return true;
  return method === 'magnitude' && (options.schedule === undefined || options.schedule === 'one-shot');
}

export async function checkBackendAgreement(
  a: readonly RunRecord[],
  b: readonly RunRecord[],
  finalWeights: FinalWeights,
  options: AgreementOptions = {},
): Promise<{ rows: AgreementRow[]; problems: string[] }> {
  const qualityExamples = options.qualityExamples ?? 1;
  const flatnessTolerance = options.flatnessTolerance ?? 0.02;
  const maskFraction = options.maskFraction ?? 1e-3;
  const problems: string[] = [];
  const byId = (records: readonly RunRecord[]) => new Map(records.map((r) => [r.id, r]));
  const inA = byId(a);
  const inB = byId(b);
  for (const id of inA.keys()) if (!inB.has(id)) problems.push(`run ${id} is only in the first store`);
  for (const id of inB.keys()) if (!inA.has(id)) problems.push(`run ${id} is only in the second store`);
  const rows: AgreementRow[] = [];
  for (const [id, ra] of [...inA].sort(([x], [y]) => x.localeCompare(y))) {
    const rb = inB.get(id);
    if (!rb) continue;
    const row: AgreementRow = {
      id,
      label: `${ra.description.task} ${methodLabel(ra.description)}`,
      backends: [ra.environment?.backend ?? '?', rb.environment?.backend ?? '?'],
      quality: [ra.metrics?.quality ?? null, rb.metrics?.quality ?? null],
      maskDifferences: null,
      masksMustMatch: masksChosenBeforeTraining(ra),
      problems: [],
    };
    rows.push(row);
    if (ra.status !== 'completed' || rb.status !== 'completed') {
      row.problems.push(`status ${ra.status} / ${rb.status}${rb.error ? ` (${rb.error})` : ra.error ? ` (${ra.error})` : ''}`);
      continue;
    }
    const pa = ra.metrics.params;
    const pb = rb.metrics.params;
    if (pa.total !== pb.total || pa.nonzero !== pb.nonzero) {
      row.problems.push(`parameters ${pa.nonzero}/${pa.total} vs ${pb.nonzero}/${pb.total}`);
    }
    const macsSlack = row.masksMustMatch ? 0 : maskFraction * ra.metrics.macs.effective;
    if (Math.abs(ra.metrics.macs.effective - rb.metrics.macs.effective) > macsSlack || ra.metrics.macs.dense !== rb.metrics.macs.dense) {
      row.problems.push(`MACs ${ra.metrics.macs.effective} vs ${rb.metrics.macs.effective}${macsSlack ? ` (tolerance ${Math.floor(macsSlack)})` : ''}`);
    }
    const testSize = Number(ra.description.taskOptions?.testSize);
    // Without a fixed test subset the tolerance is one example of CIFAR-10's 10,000 (the smallest test split here).
    const qualityTolerance = qualityExamples / (Number.isInteger(testSize) && testSize > 0 ? testSize : 10_000) + 1e-9;
    if (Math.abs(ra.metrics.quality - rb.metrics.quality) > qualityTolerance) {
      row.problems.push(`${ra.metrics.qualityName} ${ra.metrics.quality} vs ${rb.metrics.quality} (tolerance ${qualityTolerance.toFixed(4)})`);
    }
    const fa = ra.metrics.flatness;
    const fb = rb.metrics.flatness;
    if (fa && fb && Math.abs(fa.lossIncrease - fb.lossIncrease) > flatnessTolerance) {
      row.problems.push(`flatness Δloss ${fa.lossIncrease} vs ${fb.lossIncrease} (tolerance ${flatnessTolerance})`);
    }
    const [wa, wb] = [await finalWeights('a', ra), await finalWeights('b', rb)];
    if (wa && wb) {
      let differences = 0;
      for (const [name, va] of wa) {
        const vb = wb.get(name);
        if (!vb || vb.length !== va.length) {
          row.problems.push(`final weights: "${name}" differs in shape`);
          continue;
        }
        for (let i = 0; i < va.length; i++) if ((va[i] === 0) !== (vb[i] === 0)) differences++;
      }
      row.maskDifferences = differences;
      const allowed = row.masksMustMatch ? 0 : Math.floor(maskFraction * pa.nonzero);
      if (differences > allowed) {
        row.problems.push(`${differences} weights pruned on one backend and kept on the other${allowed ? ` (tolerance ${allowed})` : ''}`);
      }
    }
  }
  return { rows, problems: [...problems, ...rows.flatMap((r) => r.problems.map((p) => `${r.id} ${r.label}: ${p}`))] };
}

export function backendAgreementMarkdown(rows: readonly AgreementRow[]): string {
  const pct = (q: number | null) => (q === null ? '—' : `${(100 * q).toFixed(2)}`);
  return markdownTable(
    ['run', 'method', `quality ${rows[0]?.backends[0] ?? ''}`, `quality ${rows[0]?.backends[1] ?? ''}`, 'mask differences', 'agrees'],
    rows.map((r) => [
      r.id,
      r.label,
      pct(r.quality[0]),
      pct(r.quality[1]),
      r.maskDifferences === null ? '—' : `${r.maskDifferences}${r.masksMustMatch ? ' (must be 0)' : ''}`,
      r.problems.length === 0 ? 'yes' : `**no**: ${r.problems.join('; ')}`,
    ]),
  );
}
