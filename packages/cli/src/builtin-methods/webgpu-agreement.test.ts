/**
 * The whole harness on tfjs's webgpu backend against wasm, on the synthetic GLUE task (BERT of hidden size 8):
 * dense training of the cached starting point, every method (unstructured and structured, with surgery),
 * evaluation, flatness and the final weights. Tolerances, as in @prunebench/report's checkBackendAgreement:
 * parameter counts and MACs identical; masks identical where they are chosen before any training (one-shot
 * magnitude, random); quality within one example of the 12-example dev split; flatness within 0.02 in loss.
 * Float32 rounding differs between the backends' kernels (≈1e-6 relative per op), far below what moves these.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { initEngine, getEngineInfo } from '@prunebench/engine';
import { itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { FINAL_MODEL_FILE, RunStore, collectEnvironment, planSuite, runSuite, validateSuite, type RunRecord } from '@prunebench/harness';
import { SYNTHETIC_GLUE_TASK_ID, syntheticGlueEnvironment, syntheticGlueTask } from '@prunebench/harness/testing';
import { readSafetensors } from '@prunebench/models';
import { METHODS } from '../methods.js';

const requirement = await webgpuRequirement();
const DEV_EXAMPLES = 12;

async function runOn(backend: 'wasm' | 'webgpu'): Promise<{ records: RunRecord[]; store: RunStore }> {
  await initEngine({ backend });
  const info = getEngineInfo();
  const tasks = new Map([[SYNTHETIC_GLUE_TASK_ID, syntheticGlueTask]]);
  const store = new RunStore(mkdtempSync(join(tmpdir(), `webgpu-agreement-${backend}-`)));
  const environment = collectEnvironment({ backend: info.backend, device: info.device, versions: {}, ...(info.adapter ? { adapter: info.adapter } : {}) });
  const taskEnvironment = syntheticGlueEnvironment();
  const common = { tasks: [SYNTHETIC_GLUE_TASK_ID], seeds: [0], budget: 48, flatness: { examples: 8 } };
  const unstructured = {
    ...common, name: 'webgpu-agreement', targets: [{ compression: 2 }],
    methods: [
      'magnitude', { name: 'magnitude', options: { allocation: 'layerwise' } }, 'random', 'lth',
      { name: 'snip', options: { batchSize: 8 } }, { name: 'safe', options: { batchSize: 8 } },
    ],
  };
  const structured = {
    ...common, name: 'webgpu-agreement-structured', targets: [{ flopsReduction: 0.3 }],
    methods: [{ name: 'hrank', options: { rankBatches: 1, rankBatchSize: 8 } }, { name: 'cka-hybrid', options: { probeSize: 8, candidateExamples: 8 } }],
  };
  const outcome = { completed: [] as RunRecord[], failed: [] as RunRecord[] };
  for (const suite of [unstructured, structured]) {
    const { runs } = planSuite(validateSuite(suite, { tasks, methods: METHODS }), { tasks, methods: METHODS });
    const done = await runSuite({ runs, store, taskEnvironment, chunkExamples: 16, environment });
    outcome.completed.push(...done.completed);
    outcome.failed.push(...done.failed);
  }
  expect(outcome.failed.map((r) => `${backend} ${r.description.method}: ${r.error}`)).toEqual([]);
  return { records: outcome.completed, store };
}

async function zeroPattern(store: RunStore, id: string): Promise<string> {
  const tensors = await readSafetensors(join(store.runDir(id), FINAL_MODEL_FILE));
  return [...tensors].map(([name, t]) => `${name}:${Array.from(t.data, (v) => (v === 0 ? 0 : 1)).join('')}`).join('\n');
}

describe('the harness on webgpu agrees with wasm', () => {
  itRequires(requirement, 'dense training, every method, evaluation and flatness on the synthetic GLUE task', async () => {
    const wasm = await runOn('wasm');
    const webgpu = await runOn('webgpu');
    expect(webgpu.records[0]!.environment!.backend).toBe('webgpu');
    expect(webgpu.records[0]!.environment!.adapter).toBeDefined();
    expect(webgpu.records.map((r) => r.id)).toEqual(wasm.records.map((r) => r.id));
    expect(webgpu.records.map((r) => r.description.method)).toEqual(['dense', 'magnitude', 'magnitude', 'random', 'lth', 'snip', 'safe', 'hrank', 'cka-hybrid']);
    for (const [i, a] of wasm.records.entries()) {
      const b = webgpu.records[i]!;
      const label = `${a.description.method} ${JSON.stringify(a.description.options)}`;
      expect(b.metrics.params, label).toEqual(a.metrics.params);
      expect(b.metrics.macs, label).toEqual(a.metrics.macs);
      expect(Math.abs(b.metrics.quality - a.metrics.quality), label).toBeLessThanOrEqual(1 / DEV_EXAMPLES + 1e-9);
      expect(Math.abs(b.metrics.flatness!.lossIncrease - a.metrics.flatness!.lossIncrease), label).toBeLessThanOrEqual(0.02);
      const options = a.description.options as { schedule?: string };
      if (a.description.method === 'random' || (a.description.method === 'magnitude' && options.schedule === undefined)) {
        expect(await zeroPattern(webgpu.store, b.id), `${label}: masks`).toBe(await zeroPattern(wasm.store, a.id));
      }
    }
  }, 600_000);
});
