import { describe, expect, it } from 'vitest';
import { buildTaskLeaderboard, leaderboardMarkdown } from './leaderboard.js';
import type { ReferenceRow } from './references.js';
import { summarize } from './run-groups.js';
import { syntheticRecord, syntheticSuite } from './synthetic-records.js';

const hrank: ReferenceRow = {
  task: 'cifar10-resnet56',
  method: 'HRank',
  top1: 93.17,
  baselineTop1: 93.26,
  flopsReductionPct: 50,
  paramsReductionPct: 42.4,
  source: { paper: 'Lin et al.: HRank', venue: 'CVPR', year: 2020, arxiv: '2002.10179' },
  setup: 'fine-tuned for many epochs from their own baseline',
};
const otherTask: ReferenceRow = { ...hrank, task: 'cifar10-resnet110', method: 'RGP' };

/** The table under a `### Target …` heading, as arrays of cells. */
function targetTable(markdown: string, target: string): string[][] {
  const section = markdown.split(`### Target ${target}\n`)[1].trimStart().split('\n\n')[0];
  return section
    .split('\n')
    .slice(2)
    .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| ?| ?\|$/g, '')));
}

describe('leaderboardMarkdown', () => {
  const records = syntheticSuite();

  it('ranks methods at each target by mean quality, dense baseline first, mean ± std over seeds', () => {
    const markdown = leaderboardMarkdown(records, 'cifar10-resnet56');
    const rows = targetTable(markdown, 'compression=8');
    expect(rows.map((r) => r[1])).toEqual(['dense (baseline)', 'magnitude', 'random']);
    expect(rows.map((r) => r[0])).toEqual(['—', '1', '2']);
    const magnitude = summarize([0, 1, 2].map((seed) => records.find((r) => r.description.method === 'magnitude' && r.description.seed === seed && r.description.target?.kind === 'compression' && r.description.target.ratio === 8)!.metrics.quality));
    expect(rows[1][2]).toBe(`${(magnitude.mean * 100).toFixed(2)} ± ${(magnitude.std * 100).toFixed(2)}`);
    expect(rows[1][3]).toBe('n=3');
    expect(rows[1][4]).toBe('8.00×');
    expect(rows[1][8]).toMatch(/ms$/);
    expect(rows[1][9]).toBe('–'); // no flatness measured in these records
    expect(rows[1][10]).toBe('48.0k / 50.0k');
    expect(markdown).toContain('| rank | method | top1 (%) |');
    for (const ratio of [2, 4, 8, 16, 32]) expect(markdown).toContain(`### Target compression=${ratio}`);
  });

  it('shows the flatness measure, mean over seeds, random beside gradient direction', () => {
    const flat = [0, 1].map((seed) =>
      syntheticRecord({ method: 'safe', target: { kind: 'compression', ratio: 8 }, seed, quality: 0.5, flatnessIncrease: 0.01 + seed * 0.02 }),
    );
    const rows = targetTable(leaderboardMarkdown([...records, ...flat], 'cifar10-resnet56'), 'compression=8');
    const safe = rows.find((r) => r[1] === 'safe')!;
    expect(safe[9]).toBe('0.020 / 0.080');
  });

  it('reorders when a method wins at a target, and separates methods by options', () => {
    const extra = [0, 1].map((seed) =>
      syntheticRecord({ method: 'magnitude', options: { scope: 'layer' }, target: { kind: 'compression', ratio: 8 }, seed, quality: 0.99 - seed * 0.01 }),
    );
    const rows = targetTable(leaderboardMarkdown([...records, ...extra], 'cifar10-resnet56'), 'compression=8');
    expect(rows.map((r) => r[1])).toEqual(['dense (baseline)', 'magnitude (scope=layer)', 'magnitude', 'random']);
    expect(rows[1][2]).toBe('98.50 ± 0.71');
    expect(rows[1][3]).toBe('n=2');
  });

  it('sets the references of the task beside our nearest row, with the setup differences stated', () => {
    const markdown = leaderboardMarkdown(records, 'cifar10-resnet56', [hrank, otherTask]);
    expect(markdown).toContain('### Published references (cifar10-resnet56)');
    const line = markdown.split('\n').find((l) => l.startsWith('| HRank'))!;
    expect(line).toContain('93.17');
    expect(line).toContain('−0.09'); // vs their own baseline
    expect(line).toContain('2.00×'); // 50 % fewer FLOPs
    expect(line).toContain('magnitude @ compression=4: 92.20 ± 0.20 (2.00×'); // synthetic speedup = sqrt(ratio): ratio 4 → 2×, the best at that target
    expect(markdown).not.toContain('RGP');
    expect(markdown).toMatch(/\*\*HRank\*\* .*published: fine-tuned for many epochs from their own baseline; ours: budget 50,000 training examples/);
  });

  it('lists failed runs with their error', () => {
    const markdown = leaderboardMarkdown(records, 'cifar10-resnet56');
    expect(markdown).toContain('### Failed runs');
    expect(markdown).toMatch(/\| snip \| compression=8 \| 0 \| BudgetExceededError/);
  });

  it('keeps failed runs out of the rankings', () => {
    const board = buildTaskLeaderboard(records, 'cifar10-resnet56');
    expect(board.targets.flatMap((t) => t.entries).some((g) => g.method === 'snip')).toBe(false);
    expect(board.failed).toHaveLength(1);
    expect(board.dense?.quality.n).toBe(3);
  });
});
