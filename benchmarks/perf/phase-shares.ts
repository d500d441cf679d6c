/**
 * Issue 16, "evaluation and latency-free paths … fast enough not to dominate a run": the phases of real runs at a
 * small sizing (their records' `phaseSeconds`), projected onto a full-budget suite's sizing. Per phase:
 *   train                     × full budget / examples used (seconds per training example as measured);
 *   gradients (SAFE)          × the same (SAFE trains through gradient calls); for the other methods fixed (scores);
 *   method                    fixed (scores, ranks, CKA probes, mask selection, SAFE's batch-norm tuning) — unless
 *                             the stores hold the same method and options at two or more budgets: then train,
 *                             gradients and method are fitted as fixed + per example (least squares) and projected
 *                             (SAFE's projections and dual updates run every step);
 *   evaluation                × full test split / measured test split (10,000 CIFAR-10 images where the suite
 *                             leaves testSize out);
 *   load, validate, flatness, latency, quantization, reconstruction, export   fixed (they do not grow with the budget;
 *                             flatness at its defaults, 500 validation images, as the full suites use).
 * A phase "dominates" when its projected share of the run is 5 % or more.
 *
 *   npx tsx benchmarks/perf/phase-shares.ts --suite benchmarks/suites/cifar10-resnet20.json --store <dir> [--store <dir> …]
 *       [--label x] [--out file.json]
 * Reads every completed record of the suite's task in the stores; writes JSON (the records' phases, environment,
 * the projection) to --out, default benchmarks/perf/results/phase-shares-<suite>-<date>[-<label>].json, and prints a
 * Markdown table.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { RECORD_FILE, RUN_PHASES, type RunPhase, type RunRecord } from '@prunebench/harness';
import { exitWithUsage } from './script-helpers.js';

const USAGE = 'usage: npx tsx benchmarks/perf/phase-shares.ts --suite <suite.json> --store <dir> [--store <dir> …] [--label x] [--out file.json]';
let values: { suite?: string; store?: string[]; label?: string; out?: string };
try {
  ({ values } = parseArgs({ options: { suite: { type: 'string' }, store: { type: 'string', multiple: true }, label: { type: 'string' }, out: { type: 'string' } }, strict: true }));
} catch (error) {
  exitWithUsage('phase-shares', (error as Error).message, USAGE);
}
if (!values.suite || !values.store?.length) exitWithUsage('phase-shares', '--suite and at least one --store are required', USAGE);
const repo = join(dirname(new URL(import.meta.url).pathname), '..', '..');
/** The CIFAR-10 test split, what a suite that leaves testSize out evaluates on. */
const FULL_TEST_IMAGES = 10000;
/** Share of a full-budget run from which a phase counts as dominating it. */
const DOMINATES = 0.05;
/** Methods that train through trainer.gradients, their per-step host work in `method`: both grow with the budget. */
const GRADIENT_TRAINED = new Set(['safe']);

/** A JSON file's contents, or the usage error naming the file (missing, unreadable, not JSON). */
function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    exitWithUsage('phase-shares', `${what} ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, USAGE);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    exitWithUsage('phase-shares', `${what} ${file}: not valid JSON (${(error as Error).message})`, USAGE);
  }
}

const suite = readJson(values.suite, 'suite') as { name: string; tasks: Array<string | { id: string; testSize?: number }>; budget: number | { epochs: number } };
if (!Array.isArray(suite?.tasks) || suite.tasks.length === 0) exitWithUsage('phase-shares', `${values.suite}: "tasks" must be a non-empty array`, USAGE);
if (typeof suite.budget !== 'number') exitWithUsage('phase-shares', `${values.suite}: give the budget in examples (an epoch budget needs the task's split size)`, USAGE);
const task = typeof suite.tasks[0] === 'string' ? { id: suite.tasks[0] } : suite.tasks[0];
const fullBudget = suite.budget;
const fullTest = task.testSize || FULL_TEST_IMAGES;

const records: RunRecord[] = [];
for (const store of values.store) {
  let ids: string[];
  try {
    ids = readdirSync(store);
  } catch (error) {
    exitWithUsage('phase-shares', `--store ${store}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`, USAGE);
  }
  for (const id of ids) {
    const file = join(store, id, RECORD_FILE);
    if (!existsSync(file)) continue;
    let record: RunRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
    } catch (error) {
      // a store may hold a damaged record (the harness sets such runs aside and redoes them): say so, read the rest
      console.error(`phase-shares: skipping ${file}: not valid JSON (${(error as Error).message})`);
      continue;
    }
    if (record.status === 'completed' && record.description?.task === task.id && record.phaseSeconds) records.push(record);
  }
}
if (records.length === 0) exitWithUsage('phase-shares', `no completed record of task ${task.id} with phaseSeconds in ${values.store.join(', ')}`, USAGE);

const phases = Object.keys(RUN_PHASES) as RunPhase[];
/** The phases fitted over budgets, per method and options with records at two or more budgets. */
const FITTED: readonly RunPhase[] = ['train', 'gradients', 'method'];
const key = (r: RunRecord) => `${r.description.method} ${JSON.stringify(r.description.options)}`;
const fits = new Map<string, Record<string, { fixedSeconds: number; secondsPerExample: number }>>();
for (const k of new Set(records.map(key))) {
  const group = records.filter((r) => key(r) === k);
  const xs = group.map((r) => r.budget.usedExamples);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (sxx === 0) continue;
  fits.set(k, Object.fromEntries(FITTED.map((phase) => {
    const ys = group.map((r) => r.phaseSeconds![phase] ?? 0);
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx;
    return [phase, { fixedSeconds: my - slope * mx, secondsPerExample: slope }];
  })));
}
const rows = records.map((record) => {
  const measured = record.phaseSeconds!;
  const used = record.budget.usedExamples;
  const testSize = Number(record.description.taskOptions?.testSize ?? FULL_TEST_IMAGES);
  const budgetScale = used > 0 ? fullBudget / used : 0;
  const scaled = GRADIENT_TRAINED.has(record.description.method) ? new Set<RunPhase>(['train', 'gradients']) : new Set<RunPhase>(['train']);
  const fit = fits.get(key(record));
  const projected = Object.fromEntries(phases.map((phase) => {
    const seconds = measured[phase] ?? 0;
    if (fit?.[phase]) return [phase, Math.max(0, fit[phase].fixedSeconds + fit[phase].secondsPerExample * fullBudget)];
    if (scaled.has(phase)) return [phase, seconds * budgetScale];
    if (phase === 'evaluation') return [phase, (seconds * fullTest) / testSize];
    return [phase, seconds];
  })) as Record<RunPhase, number>;
  const total = phases.reduce((a, p) => a + projected[p], 0);
  const shares = Object.fromEntries(phases.map((p) => [p, total > 0 ? projected[p] / total : 0])) as Record<RunPhase, number>;
  // the dense row trains nothing: all of it is evaluation, so nothing there "dominates" a training run
  const dominating = used === 0 ? [] : phases.filter((p) => !scaled.has(p) && shares[p] >= DOMINATES);
  return {
    id: record.id, method: record.description.method, options: record.description.options, usedExamples: used, testSize, wallTimeSeconds: record.wallTimeSeconds,
    measured, measuredShares: Object.fromEntries(phases.map((p) => [p, (measured[p] ?? 0) / record.wallTimeSeconds])),
    projected, projectedTotalSeconds: total, projectedShares: shares, growsWithBudget: [...scaled], fit: fit ?? null, dominating,
    environment: record.environment,
  };
});

const date = new Date().toISOString();
const result = {
  benchmark: 'perf-phase-shares', date, suite: suite.name, task: task.id, fullBudget, fullTest, dominatesFrom: DOMINATES,
  stores: values.store, rows,
};
const out = values.out ?? join(repo, 'benchmarks/perf/results', `phase-shares-${basename(values.suite, '.json')}-${date.slice(0, 10)}${values.label ? `-${values.label}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);

const shown = phases.filter((p) => rows.some((r) => r.projected[p] > 0.005));
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
console.log(`\n${suite.name}: ${task.id}, budget ${fullBudget} examples, test ${fullTest} images; measured at ${[...new Set(rows.map((r) => r.usedExamples))].join('/')} examples, test ${[...new Set(rows.map((r) => r.testSize))].join('/')}\n`);
console.log(`| method | ${shown.map((p) => `${p} s (share)`).join(' | ')} | run s | ≥ 5 % outside training |`);
console.log(`| --- | ${shown.map(() => '---:').join(' | ')} | ---: | --- |`);
for (const r of rows) {
  const options = Object.keys(r.options).length ? ` ${JSON.stringify(r.options)}` : '';
  console.log(`| ${r.method}${options} (${r.usedExamples} ex.${r.fit ? ', fitted' : ''}) | ${shown.map((p) => `${r.projected[p].toFixed(1)} (${pct(r.projectedShares[p])})`).join(' | ')} | ${r.projectedTotalSeconds.toFixed(0)} | ${r.dominating.join(', ') || '—'} |`);
}
console.log(`\nwrote ${out}`);
