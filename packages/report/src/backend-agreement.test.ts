import { describe, expect, it } from 'vitest';
import type { RunRecord } from '@prunebench/harness';
import { backendAgreementMarkdown, checkBackendAgreement, masksChosenBeforeTraining } from './backend-agreement.js';
import { syntheticRecord } from './synthetic-records.js';

const onBackend = (record: RunRecord, backend: string): RunRecord => ({
  ...record,
  description: { ...record.description, taskOptions: { testSize: 64 } },
  environment: { backend, device: backend, versions: {}, gitCommit: null, node: 'v20', platform: 'linux-x64', cpus: 2 },
});
const magnitude = syntheticRecord({ method: 'magnitude', target: { kind: 'compression', ratio: 2 }, seed: 0, quality: 0.5 });
const lth = syntheticRecord({ method: 'lth', target: { kind: 'compression', ratio: 2 }, seed: 0, quality: 0.5 });
const weights = (zeros: number[]) => new Map([['w', Float32Array.from({ length: 8 }, (_, i) => (zeros.includes(i) ? 0 : 1))]]);

describe('checkBackendAgreement', () => {
  it('agrees when counts match, quality is within one test example and deterministic masks are identical', async () => {
    const a = [onBackend(magnitude, 'webgpu'), onBackend(lth, 'webgpu')];
    const b = [onBackend({ ...magnitude, metrics: { ...magnitude.metrics, quality: 0.5 + 1 / 64 } }, 'wasm'), onBackend(lth, 'wasm')];
    // lth's masks come after training: a differing zero pattern is reported, not an error
    const finalWeights = async (store: 'a' | 'b', record: RunRecord) =>
      record.description.method === 'lth' && store === 'b' ? weights([0, 2]) : weights([0, 1]);
    const { rows, problems } = await checkBackendAgreement(a, b, finalWeights);
    expect(problems).toEqual([]);
    // rows in id order: lth, then magnitude
    expect(rows.map((r) => [r.id, r.backends, r.maskDifferences, r.masksMustMatch])).toEqual([
      [lth.id, ['webgpu', 'wasm'], 2, false],
      [magnitude.id, ['webgpu', 'wasm'], 0, true],
    ]);
    expect(backendAgreementMarkdown(rows)).toContain('| quality webgpu | quality wasm |');
  });

  it('names every disagreement: a missing run, quality beyond one example, counts, and a deterministic mask', async () => {
    const worse = { ...magnitude, metrics: { ...magnitude.metrics, quality: 0.5 + 2 / 64, params: { ...magnitude.metrics.params, nonzero: 7 } } };
    const { problems } = await checkBackendAgreement(
      [onBackend(magnitude, 'webgpu'), onBackend(lth, 'webgpu')],
      [onBackend(worse, 'wasm')],
      async (store) => (store === 'a' ? weights([0]) : weights([1])),
    );
    expect(problems).toEqual([
      `run ${lth.id} is only in the first store`,
      expect.stringMatching(/parameters \d+\/\d+ vs 7\//),
      expect.stringMatching(/top1 0\.5 vs 0\.53125 \(tolerance 0\.0156\)/),
      expect.stringMatching(/2 weights pruned on one backend and kept on the other/),
    ]);
  });

  it('lets masks chosen after training differ in at most 0.1 % of the kept weights (and MACs by as much)', async () => {
    const flipped = (n: number, store: 'a' | 'b') => new Map([['w', Float32Array.from({ length: n }, (_, i) => (store === 'a' ? i % 2 : 1 - (i % 2)))]]);
    const shiftedMacs = (by: number) => ({ ...lth, metrics: { ...lth.metrics, macs: { ...lth.metrics.macs, effective: lth.metrics.macs.effective + by } } });
    const allowed = Math.floor(1e-3 * lth.metrics.params.nonzero);
    const within = await checkBackendAgreement([onBackend(lth, 'webgpu')], [onBackend(shiftedMacs(100), 'wasm')], async (store) => flipped(allowed, store));
    expect(within.problems).toEqual([]);
    expect(within.rows[0]!.maskDifferences).toBe(allowed);
    const beyond = await checkBackendAgreement([onBackend(lth, 'webgpu')], [onBackend(shiftedMacs(lth.metrics.macs.effective), 'wasm')], async (store) => flipped(allowed + 2, store));
    expect(beyond.problems).toEqual([
      expect.stringMatching(/MACs \d+ vs \d+ \(tolerance \d+\)/),
      expect.stringMatching(new RegExp(`${allowed + 2} weights pruned on one backend and kept on the other \\(tolerance ${allowed}\\)`)),
    ]);
  });

  it('requires identical masks only where they are chosen before any training', () => {
    const of = (method: string, options: Record<string, unknown> = {}) => ({ ...magnitude, description: { ...magnitude.description, method, options } });
    expect(masksChosenBeforeTraining(of('magnitude'))).toBe(true);
    expect(masksChosenBeforeTraining(of('magnitude', { allocation: 'layerwise' }))).toBe(true);
    expect(masksChosenBeforeTraining(of('random'))).toBe(true);
    expect(masksChosenBeforeTraining(of('magnitude', { schedule: 'iterative' }))).toBe(false);
    expect(masksChosenBeforeTraining(of('snip'))).toBe(false);
  });
});
