import { existsSync, readdirSync, statSync } from 'node:fs';
import type { RunRecord } from '@prunebench/harness';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '@prunebench/engine';
import { replaceFolder } from './atomic-write.js';
import { CHART_KINDS, chartApplies, qualityChartSpec, renderChartSvg } from './charts.js';
import { environmentSummary } from './environment-summary.js';
import { renderHtmlReport, slug, type RenderedChart } from './html-report.js';
import { buildTaskLeaderboard, failedRunsMarkdown, leaderboardMarkdown } from './leaderboard.js';
import { readReferences, referencesForTask, type ReferenceRow } from './references.js';
import { tasksOf } from './run-groups.js';
import { readRunStore, type StoreProblem } from './run-store.js';
import { runsCsv } from './runs-csv.js';

export interface GenerateReportOptions {
  /** Published reference numbers (`*.json`); default `benchmarks/references` under the working folder when it exists. */
  referencesDir?: string;
  title?: string;
  /** Timestamp printed in the report; default now. */
  generatedAt?: string;
  /** Told about each skipped record or reference file; default `console.warn`. */
  onProblem?: (problem: StoreProblem) => void;
  /** When false, a store without one usable record is an EmptyReportError and nothing is written; default true. */
  allowEmpty?: boolean;
}

/** The store holds no usable run record (and the caller asked for one): no report was written. */
export class EmptyReportError extends Error {
  constructor(readonly storeDir: string, readonly problems: StoreProblem[]) {
    super(`no usable run record in ${storeDir}${problems.length > 0 ? ` (${problems.length} skipped: ${problems.slice(0, 3).map((p) => `${p.file}: ${p.message}`).join('; ')})` : ''}; no report written (--allow-empty writes an empty one)`);
    this.name = 'EmptyReportError';
  }
}

export interface GeneratedReport {
  /** Absolute paths of every file written. */
  files: string[];
  /** Records or reference files that were skipped, each with its file. */
  problems: StoreProblem[];
}

export const DEFAULT_REFERENCES_DIR = 'benchmarks/references';

/**
 * Reads the run store and writes `outDir`: runs.csv, leaderboard.md (all tasks), leaderboard-<task>.md,
 * charts/<task>-<chart>.svg + .vl.json, and a self-contained index.html. The report is built in a temporary folder
 * beside `outDir` and renamed into place as a whole, replacing the old one: a failed or killed report leaves the
 * previous report as it was, never a mix, and files of tasks no longer in the store do not linger.
 */
export async function generateReport(storeDir: string, outDir: string, options: GenerateReportOptions = {}): Promise<GeneratedReport> {
  const warn = options.onProblem ?? ((p: StoreProblem) => console.warn(`prunebench report: skipped ${p.file}: ${p.message}`));
  const store = readRunStore(storeDir);
  const problems = [...store.problems];
  if (store.records.length === 0 && options.allowEmpty === false) throw new EmptyReportError(storeDir, problems);
  if (store.records.length === 0) {
    problems.push({ file: storeDir, message: 'the run store holds no run records; the report is empty' });
  }
  let references: ReferenceRow[] = [];
  const referencesDir = options.referencesDir ?? (existsSync(DEFAULT_REFERENCES_DIR) ? DEFAULT_REFERENCES_DIR : undefined);
  if (referencesDir) {
    const read = readReferences(referencesDir);
    references = read.references;
    problems.push(...read.problems);
  }
  problems.forEach(warn);

  const title = options.title ?? 'prunebench report';
  const generatedAt = options.generatedAt ?? new Date().toISOString();
  const records = store.records;
  const tasks = tasksOf(records.filter((r) => r.status === 'completed'));
  const failed = records.filter((r) => r.status === 'failed');
  const files: string[] = [];
  const finalDir = resolve(outDir);
  checkReplaceable(finalDir, resolve(storeDir));
  return replaceFolder(finalDir, async (buildDir) => {
    const write = (relativePath: string, content: string) => {
      writeFileAtomic(resolve(buildDir, relativePath), content);
      files.push(resolve(finalDir, relativePath));
    };
    write('runs.csv', runsCsv(records));

    const taskMarkdown = tasks.map((task) => leaderboardMarkdown(records, task, references));
    tasks.forEach((task, i) => write(`leaderboard-${slug(task)}.md`, `# Leaderboard: ${task}\n\n${taskMarkdown[i]}`));
    const combined = [
      `# ${title}`,
      '',
      `${records.length} runs from \`${storeDir}\`, ${tasks.length} task(s), ${failed.length} failed. Generated ${generatedAt}.`,
      '',
      ...environmentLines(records),
      ...(tasks.length === 0 ? ['No completed runs.', ''] : []),
      ...taskMarkdown,
      ...(failedOutsideTasks(failed, tasks).length > 0 ? [failedRunsMarkdown(failedOutsideTasks(failed, tasks)), ''] : []),
      ...(problems.length > 0 ? ['## Records skipped', '', ...problems.map((p) => `- \`${p.file}\`: ${p.message}`), ''] : []),
    ].join('\n');
    write('leaderboard.md', combined);

    const charts: RenderedChart[] = [];
    for (const task of tasks) {
      const taskReferences = referencesForTask(references, task);
      for (const kind of CHART_KINDS) {
        if (!chartApplies(records, task, kind)) continue;
        const spec = qualityChartSpec(records, task, kind, taskReferences);
        const svg = await renderChartSvg(spec);
        const base = join('charts', `${slug(task)}-${kind}`);
        write(`${base}.vl.json`, `${JSON.stringify(spec, null, 2)}\n`);
        write(`${base}.svg`, svg);
        charts.push({ task, kind, svg });
      }
    }

    write(
      'index.html',
      renderHtmlReport({
        title,
        generatedAt,
        storeDir,
        runCount: records.length,
        boards: tasks.map((task) => buildTaskLeaderboard(records, task, references)),
        charts,
        failed,
        problems,
        environment: environmentSummary(records),
      }),
    );
    return { files, problems };
  });
}

/**
 * The output folder is replaced as a whole, so it must be new, empty or an earlier report (it has index.html or
 * runs.csv), and must not hold the store.
 */
function checkReplaceable(finalDir: string, storeDir: string): void {
  const relativeStore = relative(finalDir, storeDir);
  if (relativeStore === '' || (!relativeStore.startsWith('..') && !isAbsolute(relativeStore))) {
    throw new Error(`report output ${finalDir} holds the run store ${storeDir}; write the report elsewhere (it replaces the whole folder)`);
  }
  if (!existsSync(finalDir) || !statSync(finalDir).isDirectory() || readdirSync(finalDir).length === 0) return;
  if (!['index.html', 'runs.csv'].some((file) => existsSync(join(finalDir, file)))) {
    throw new Error(`report output ${finalDir} holds other files and no earlier report (no index.html or runs.csv); choose a new or empty folder (the report replaces the whole folder)`);
  }
}

/** Failed runs of tasks that have no completed run (the per-task leaderboards list the others). */
function failedOutsideTasks(failed: RunRecord[], tasks: string[]): RunRecord[] {
  return failed.filter((r) => !tasks.includes(r.description.task));
}

/** Where the runs computed: backend, device and WebGPU adapter (a software adapter says so), as one line each. */
function environmentLines(records: RunRecord[]): string[] {
  const wanted = ['backend', 'device', 'WebGPU adapter'];
  const lines = environmentSummary(records)
    .filter((e) => wanted.includes(e.field))
    .map((e) => `- ${e.field}: ${e.values.join('; ')}`);
  return lines.length > 0 ? [...lines, ''] : [];
}
