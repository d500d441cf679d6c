import type { RunRecord } from '@prunebench/harness';
import { formatCount, formatMeanStd, formatNumber, formatPercent, markdownTable } from './format.js';
import { nmPatternMarkdown } from './nm-pattern.js';
import { reconstructionMarkdown } from './reconstruction.js';
import { quantizedMarkdown } from './quantized.js';
import { referenceLink, referencesForTask, speedupFromReduction, type ReferenceRow } from './references.js';
import { DENSE_METHOD, groupRuns, qualityDisplayFactor, targetLabel, type ProviderLatency, type RunGroup } from './run-groups.js';

/** The rows of one task's leaderboard, before formatting: shared by the Markdown and HTML renderings. */
export interface TaskLeaderboard {
  task: string;
  qualityName: string;
  /** Multiply stored quality by this to display it (100 for accuracies stored as fractions). */
  qualityFactor: number;
  dense: RunGroup | null;
  targets: { targetLabel: string; entries: RunGroup[] }[];
  references: ReferenceComparison[];
  failed: RunRecord[];
  /** The providers latency was measured on in this task, in order, each with its device: one column each. */
  latencyProviders: LatencyColumn[];
}

export interface LatencyColumn {
  provider: string;
  device: string;
  software: boolean;
  /**
   * The noise floor: the interval of the dense model's speed-up against itself (its row times it against a second
   * session of the same model). A speed-up whose estimate falls inside it is no more than that measurement's own
   * spread, so it is marked as noise even when its own interval misses 1. Null without a dense row.
   */
  noiseFloor: [number, number] | null;
}

/** A published row set beside the nearest of ours (by theoretical speedup). */
export interface ReferenceComparison {
  reference: ReferenceRow;
  speedup: number;
  nearest: RunGroup | null;
}

export function buildTaskLeaderboard(records: RunRecord[], task: string, references: ReferenceRow[] = []): TaskLeaderboard {
  const taskRecords = records.filter((r) => r.description.task === task);
  const completed = taskRecords.filter((r) => r.status === 'completed');
  const groups = groupRuns(completed);
  const dense = groups.find((g) => g.method === DENSE_METHOD) ?? null;
  const pruned = groups.filter((g) => g.method !== DENSE_METHOD);
  const targets: TaskLeaderboard['targets'] = [];
  for (const group of pruned) {
    let bucket = targets.find((t) => t.targetLabel === group.targetLabel);
    if (!bucket) {
      bucket = { targetLabel: group.targetLabel, entries: [] };
      targets.push(bucket);
    }
    bucket.entries.push(group);
  }
  const comparisons = referencesForTask(references, task).map((reference) => {
    const speedup = speedupFromReduction(reference.flopsReductionPct);
    return { reference, speedup, nearest: nearestBySpeedup(pruned, speedup) };
  });
  return {
    task,
    qualityName: completed[0]?.metrics.qualityName ?? 'quality',
    qualityFactor: qualityDisplayFactor(completed),
    dense,
    targets,
    references: comparisons,
    failed: taskRecords.filter((r) => r.status === 'failed'),
    latencyProviders: latencyColumns(groups, dense),
  };
}

function latencyColumns(groups: RunGroup[], dense: RunGroup | null): LatencyColumn[] {
  const columns: LatencyColumn[] = [];
  for (const latency of groups.flatMap((g) => g.latencyByProvider)) {
    const known = columns.find((c) => c.provider === latency.provider);
    const noiseFloor = dense?.latencyByProvider.find((l) => l.provider === latency.provider)?.speedupInterval ?? null;
    if (!known) columns.push({ provider: latency.provider, device: latency.device, software: latency.software, noiseFloor });
    else {
      if (!known.device.split('; ').includes(latency.device)) known.device = `${known.device}; ${latency.device}`;
      known.software ||= latency.software;
    }
  }
  return columns;
}

/** The header of a task's tables: the `latency p50` column becomes one column per provider measured. */
export function leaderboardHeader(board: Pick<TaskLeaderboard, 'qualityName' | 'qualityFactor' | 'latencyProviders'>): string[] {
  return LEADERBOARD_COLUMNS.flatMap((column): string[] => {
    if (column === 'quality') return [qualityHeading(board)];
    if (column === 'latency p50' && board.latencyProviders.length > 0) {
      return board.latencyProviders.map((c) => `latency p50 ${c.provider}${c.software ? ' (software adapter)' : ''}`);
    }
    return [column];
  });
}

/**
 * One latency cell: `0.631 [0.566–0.638] ms; ×1.03 [0.95–1.05] noise` — the batch-1 median with its interval, then
 * the speed-up against the dense model timed in the same rounds, marked `noise` when its interval holds 1. Over
 * several seeds: mean ± std of each, and in how many seeds the speed-up was within noise.
 */
export function latencyCell(latency: ProviderLatency | undefined, noiseFloor: [number, number] | null = null): string {
  if (!latency) return '–';
  const interval = (range: [number, number] | null, digits: number) => (range ? ` [${formatNumber(range[0], digits)}–${formatNumber(range[1], digits)}]` : '');
  const time = `${formatMeanStd(latency.p50Ms, 1, 3)}${interval(latency.p50IntervalMs, 3)} ms`;
  if (!latency.speedupVsDense) return time;
  const { seeds, of } = latency.withinNoise;
  const speedup = latency.speedupVsDense.mean;
  const belowFloor = noiseFloor !== null && speedup >= noiseFloor[0] && speedup <= noiseFloor[1];
  const noise = of === 1 ? (seeds === 1 || belowFloor ? ' noise' : '') : seeds > 0 ? ` noise in ${seeds}/${of} seeds` : belowFloor ? ' noise' : '';
  return `${time}; ×${formatMeanStd(latency.speedupVsDense, 1, 2)}${interval(latency.speedupInterval, 2)}${noise}`;
}

/** The note under a task's tables naming each latency column's device and how to read the cells. */
export function latencyNote(board: Pick<TaskLeaderboard, 'latencyProviders'>): string {
  if (board.latencyProviders.length === 0) return '';
  const devices = board.latencyProviders.map((c) => `${c.provider}: ${c.device}${c.software && !/software/i.test(c.device) ? ' (software adapter)' : ''}`);
  return `Latency (ONNX Runtime; ${devices.join('; ')}): batch-1 median in ms [95 % interval over rounds]; ×: speed-up against the task's dense model timed in the same process, interleaved round by round, [95 % interval]; "noise": the interval holds 1, or the speed-up lies within the dense row's interval (the dense model timed against itself, the noise floor), so no speed-up is measurable (docs/metrics.md). A software adapter runs on the CPU: its figures are no GPU speed.`;
}

function nearestBySpeedup(groups: RunGroup[], speedup: number): RunGroup | null {
  let best: RunGroup | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const group of groups) {
    const distance = Math.abs(Math.log(group.theoreticalSpeedup.mean) - Math.log(speedup));
    if (distance < bestDistance || (distance === bestDistance && best && group.quality.mean > best.quality.mean)) {
      best = group;
      bestDistance = distance;
    }
  }
  return best;
}

export const LEADERBOARD_COLUMNS = [
  'rank',
  'method',
  'quality',
  'seeds',
  'compression',
  'MAC reduction',
  'speedup',
  'nonzero params',
  'latency p50',
  'flatness Δloss (random / gradient)',
  'budget used / granted',
] as const;

/** The cells of one leaderboard row (rank null for the dense baseline); one latency cell per provider of the task. */
export function leaderboardCells(group: RunGroup, rank: number | null, qualityFactor: number, latencyProviders: readonly LatencyColumn[] = []): string[] {
  const latencyCells = latencyProviders.length > 0
    ? latencyProviders.map((c) => latencyCell(group.latencyByProvider.find((l) => l.provider === c.provider), c.noiseFloor))
    : [group.latencyP50Ms ? `${formatMeanStd(group.latencyP50Ms, 1, 3)} ms` : '–'];
  return [
    rank === null ? '—' : String(rank),
    rank === null ? `${group.label} (baseline)` : group.label,
    formatMeanStd(group.quality, qualityFactor),
    `n=${group.quality.n}`,
    `${formatNumber(group.compressionRatio.mean)}×`,
    formatPercent(group.macReduction.mean),
    `${formatNumber(group.theoreticalSpeedup.mean)}×`,
    `${formatCount(group.paramsNonzero.mean)} / ${formatCount(group.paramsTotal)}`,
    ...latencyCells,
    group.flatness ? `${formatNumber(group.flatness.random.mean, 3)} / ${formatNumber(group.flatness.worstCase.mean, 3)}` : '–',
    `${formatCount(group.budgetUsed.mean)} / ${formatCount(group.budgetGranted)}`,
  ];
}

export function qualityHeading(board: Pick<TaskLeaderboard, 'qualityName' | 'qualityFactor'>): string {
  return board.qualityFactor === 100 ? `${board.qualityName} (%)` : board.qualityName;
}

/** Our setup in the words used beside published rows. */
export function ourSetupText(board: TaskLeaderboard): string {
  const budgets = [...new Set(board.targets.flatMap((t) => t.entries.map((e) => e.budgetGranted)))].sort((a, b) => a - b);
  const budgetText = budgets.length > 0 ? budgets.map((b) => b.toLocaleString('en-US')).join(' / ') : 'no';
  return `budget ${budgetText} training examples per run, starting from the task's dense weights; final weights scored, never a best epoch`;
}

/**
 * A task's leaderboard in Markdown: per target, methods ranked by mean quality (desc) over seeds, the dense
 * baseline on top, then published reference rows beside our nearest row, with the setup differences stated.
 */
export function leaderboardMarkdown(records: RunRecord[], task: string, references: ReferenceRow[] = []): string {
  const board = buildTaskLeaderboard(records, task, references);
  const header = leaderboardHeader(board);
  const cells = (group: RunGroup, rank: number | null) => leaderboardCells(group, rank, board.qualityFactor, board.latencyProviders);
  const lines: string[] = [`## ${task}`, ''];
  if (board.targets.length === 0 && !board.dense) lines.push('No completed runs.', '');
  if (board.dense && board.targets.length === 0) {
    lines.push(markdownTable(header, [cells(board.dense, null)]), '');
  }
  for (const target of board.targets) {
    const rows = target.entries.map((group, index) => cells(group, index + 1));
    if (board.dense) rows.unshift(cells(board.dense, null));
    lines.push(`### Target ${target.targetLabel}`, '', markdownTable(header, rows), '');
  }
  lines.push(
    `Quality is ${board.qualityName} on the test/dev split, mean ± sample std over seeds (n shown). Compression = total / nonzero parameters; MAC reduction and speedup count conv + linear multiply-accumulates (plus the attention matmuls for BERT; docs/metrics.md); budget in training examples (forward + backward). Flatness: increase of the cross-entropy on fixed validation examples when every prunable weight tensor moves by a fixed fraction of its norm (pruned weights stay 0), along random directions (mean) and along the gradient (one ascent step); lower is flatter. Defaults: 500 examples, 5 % of the norm, 3 directions; runs.csv has each run's settings.`,
    '',
  );
  if (board.latencyProviders.length > 0) lines.push(latencyNote(board), '');
  const nm = nmPatternMarkdown(records.filter((r) => r.description.task === task));
  if (nm) lines.push(nm, '');
  const reconstruction = reconstructionMarkdown(records.filter((r) => r.description.task === task));
  if (reconstruction) lines.push(reconstruction, '');
  const quantized = quantizedMarkdown(records.filter((r) => r.description.task === task));
  if (quantized) lines.push(quantized, '');
  if (board.references.length > 0) lines.push(referencesMarkdown(board), '');
  if (board.failed.length > 0) lines.push(failedRunsMarkdown(board.failed), '');
  return lines.join('\n');
}

function referencesMarkdown(board: TaskLeaderboard): string {
  const ourDense = board.dense?.quality.mean;
  const rows = board.references.map(({ reference: ref, speedup, nearest }) => {
    const ours = nearest
      ? `${nearest.label} @ ${nearest.targetLabel}: ${formatMeanStd(nearest.quality, board.qualityFactor)} (${formatNumber(nearest.theoreticalSpeedup.mean)}×${
          ourDense !== undefined ? `, Δ ${signed((nearest.quality.mean - ourDense) * board.qualityFactor)} vs our dense` : ''
        })`
      : '–';
    return [
      ref.method,
      formatNumber(ref.top1),
      formatNumber(ref.baselineTop1),
      signed(ref.top1 - ref.baselineTop1),
      `${formatNumber(ref.flopsReductionPct, 1)} %`,
      ref.paramsReductionPct === undefined ? '–' : `${formatNumber(ref.paramsReductionPct, 1)} %`,
      `${formatNumber(speedup)}×`,
      ours,
      citation(ref),
    ];
  });
  const header = [
    'published method',
    'top1 (%)',
    'their baseline (%)',
    'Δ vs their baseline',
    'FLOPs ↓',
    'params ↓',
    '≈ speedup',
    'ours at the nearest speedup',
    'source',
  ];
  const differences = board.references.map(
    ({ reference: ref }) => `- **${ref.method}** (${ref.source.paper}): published: ${ref.setup}; ours: ${ourSetupText(board)}.`,
  );
  return [
    `### Published references (${board.task})`,
    '',
    markdownTable(header, rows),
    '',
    'Each row is compared with its own baseline: published baselines differ from ours and from each other. FLOPs ↓ is converted to a theoretical speedup as 1 / (1 − reduction).',
    '',
    'Setup differences:',
    '',
    ...differences,
  ].join('\n');
}

function citation(ref: ReferenceRow): string {
  const link = referenceLink(ref);
  const text = `${ref.source.paper}, ${ref.source.venue} ${ref.source.year}`;
  return link ? `[${text}](${link})` : text;
}

function signed(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
}

/** A section listing failed runs with their error, so they are never silently dropped. */
export function failedRunsMarkdown(failed: RunRecord[]): string {
  const rows = failed.map((r) => [
    r.id,
    r.description.task,
    r.description.method,
    targetLabel(r.description.target),
    String(r.description.seed),
    r.error ?? '(no error recorded)',
  ]);
  return ['### Failed runs', '', markdownTable(['id', 'task', 'method', 'target', 'seed', 'error'], rows)].join('\n');
}
