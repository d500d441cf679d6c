/**
 * Post-training int8 quality of every completed run of a task in a store under several calibrations, from the runs'
 * saved final weights (no training): the int8 QDQ ONNX model scored on the task's test split with ONNX Runtime, beside
 * the fp32 export's, as `metrics.quantized` would record it (docs/metrics.md, *Quantization*).
 *
 *   PRUNEBENCH_DATA=... PRUNEBENCH_WEIGHTS=... npx tsx benchmarks/checks/quantize-calibration.ts reports/runs-quantize \
 *     --task cifar10-resnet20 [--examples 512] [--out benchmarks/checks/results/quantize-calibration-cifar10-resnet20.md]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { FINAL_MODEL_FILE, TASKS, measureQuantized, type QuantizeSettings } from '@prunebench/harness';
import { loadModelFromSafetensors } from '@prunebench/models';
import { readRunStore } from '@prunebench/report';
import { scriptArgs } from '../perf/script-helpers.js';

async function main(args: string[]): Promise<number> {
  const parsed = scriptArgs('quantize-calibration', 'usage: quantize-calibration.ts <store dir> --task <id> [--examples n] [--out file.md]', {
    strings: ['task', 'examples', 'out'], positionals: { min: 1, max: 1 },
  }, args);
  const storeDir = parsed.positionals[0];
  const taskId = parsed.string('task');
  const definition = taskId ? TASKS.get(taskId) : undefined;
  if (!definition) {
    console.error(`quantize-calibration: --task must name a task (${[...TASKS.keys()].join(', ')})`);
    return 2;
  }
  const examples = Number(parsed.string('examples') ?? 512);
  const records = readRunStore(storeDir).records.filter((r) => r.status === 'completed' && r.description.task === taskId);
  if (records.length === 0) {
    console.error(`quantize-calibration: no completed ${taskId} run in ${storeDir}`);
    return 1;
  }
  await tf.setBackend('wasm');
  const sizing = { ...definition.defaultSizing, ...(records[0].description.taskOptions ?? {}) };
  const task = await definition.load(sizing, { cacheDir: 'datasets/cache/checkpoints', log: () => {} });
  const settings: QuantizeSettings[] = [
    { calibration: 'minmax', examples },
    { calibration: 'percentile', percentile: 99.99, examples },
    { calibration: 'percentile', percentile: 99.9, examples },
  ];
  const rows: string[] = [];
  for (const record of records) {
    const model = await loadModelFromSafetensors(join(storeDir, record.id, FINAL_MODEL_FILE));
    try {
      const cells: string[] = [];
      let fp32 = 0;
      for (const s of settings) {
        const q = await measureQuantized(model, task, definition, s, null);
        fp32 = q.fp32Quality;
        cells.push((q.quality * 100).toFixed(2));
      }
      const target = record.description.target ? JSON.stringify(record.description.target) : '—';
      rows.push(`| ${record.description.method} | ${target} | ${record.id} | ${(fp32 * 100).toFixed(2)} | ${cells.join(' | ')} |`);
      console.log(rows[rows.length - 1]);
    } finally {
      model.dispose();
    }
  }
  task.dispose();
  const name = records[0].metrics.qualityName;
  const markdown = [
    `# Post-training int8 ${name} (%) of ${taskId} under three calibrations (${examples} validation examples, full test split)`,
    '',
    `| method | target | run | ONNX fp32 | int8 min-max | int8 percentile 99.99 | int8 percentile 99.9 |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  const out = parsed.string('out');
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, markdown);
  }
  console.log(markdown);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
