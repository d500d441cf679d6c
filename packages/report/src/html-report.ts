import type { RunRecord } from '@prunebench/harness';
import type { ChartKind } from './charts.js';
import { formatNumber } from './format.js';
import {
  latencyNote,
  leaderboardCells,
  leaderboardHeader,
  ourSetupText,
  type TaskLeaderboard,
} from './leaderboard.js';
import { quantizedTable } from './quantized.js';
import { referenceLink } from './references.js';
import { targetLabel, type RunGroup } from './run-groups.js';
import type { StoreProblem } from './run-store.js';

export interface RenderedChart {
  task: string;
  kind: ChartKind;
  svg: string;
}

export interface HtmlReportInput {
  title: string;
  generatedAt: string;
  storeDir: string;
  runCount: number;
  boards: TaskLeaderboard[];
  charts: RenderedChart[];
  failed: RunRecord[];
  problems: StoreProblem[];
  environment: { field: string; values: string[] }[];
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * Gives every id in an SVG (and the references to it) a prefix: vega numbers its clip paths from 1 in
 * every render, so several charts inlined in one page would otherwise share ids.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  let result = svg;
  for (const id of ids) {
    const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    result = result
      .replace(new RegExp(`\\sid="${escaped}"`, 'g'), ` id="${prefix}${id}"`)
      .replace(new RegExp(`url\\(#${escaped}\\)`, 'g'), `url(#${prefix}${id})`)
      .replace(new RegExp(`href="#${escaped}"`, 'g'), `href="#${prefix}${id}"`);
  }
  return result;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #f6f7f9; }
main { max-width: 1360px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 8px; border-bottom: 2px solid #d9dde3; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 6px; }
.meta { color: #5b616b; margin: 0 0 16px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; font-size: 13px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
th, td { border: 1px solid #dde1e6; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.dense td { background: #f3f6ee; font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure.chart { margin: 0; background: #fff; padding: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figure.chart figcaption { font-size: 12px; color: #5b616b; }
.note { color: #5b616b; font-size: 12.5px; max-width: 980px; }
.problem { color: #9b1c1c; }
code { font-size: 12px; }
`;

export function renderHtmlReport(input: HtmlReportInput): string {
  const sections = input.boards.map((board) => taskSection(board, input.charts.filter((c) => c.task === board.task)));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(input.title)}</h1>
<p class="meta">${input.runCount} runs from <code>${escapeHtml(input.storeDir)}</code> · ${input.boards.length} task(s) · ${input.failed.length} failed · generated ${escapeHtml(input.generatedAt)}</p>
${input.boards.length === 0 ? '<p class="problem">No completed runs in this store.</p>' : ''}
${sections.join('\n')}
<h2 id="environment">Environment</h2>
${environmentTable(input.environment)}
<h2 id="failed-runs">Failed runs</h2>
${failedTable(input.failed)}
${input.problems.length > 0 ? problemsSection(input.problems) : ''}
</main>
</body>
</html>
`;
}

function taskSection(board: TaskLeaderboard, charts: RenderedChart[]): string {
  const header = leaderboardHeader(board);
  const cells = (group: RunGroup, rank: number | null) => leaderboardCells(group, rank, board.qualityFactor, board.latencyProviders);
  const numericFrom = 2;
  const row = (cells: string[], dense: boolean) =>
    `<tr${dense ? ' class="dense"' : ''}>${cells.map((cell, i) => `<td${i >= numericFrom ? ' class="num"' : ''}>${escapeHtml(cell)}</td>`).join('')}</tr>`;
  const thead = `<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const denseRow = board.dense ? row(cells(board.dense, null), true) : '';
  const tables = board.targets.map(
    (target) => `<h3>Target ${escapeHtml(target.targetLabel)}</h3>
<table>${thead}${denseRow}${target.entries.map((e, i) => row(cells(e, i + 1), false)).join('')}</table>`,
  );
  if (board.targets.length === 0 && board.dense) tables.push(`<table>${thead}${denseRow}</table>`);
  const figures = charts.map(
    (chart, index) => `<figure class="chart" data-chart="${escapeHtml(`${chart.task}-${chart.kind}`)}">${prefixSvgIds(
      chart.svg,
      `${slug(chart.task)}-${chart.kind}-${index}-`,
    )}<figcaption>${escapeHtml(chartCaption(chart.kind))}</figcaption></figure>`,
  );
  return `<section class="task" id="task-${escapeHtml(slug(board.task))}">
<h2>${escapeHtml(board.task)}</h2>
${tables.join('\n')}
<p class="note">${escapeHtml(`${board.qualityName}: mean ± sample std over seeds (n shown). Methods ranked by mean quality at each target; the dense baseline row on top.`)}</p>
${board.latencyProviders.length > 0 ? `<p class="note">${escapeHtml(latencyNote(board))}</p>\n` : ''}${quantizedHtml(board)}${board.references.length > 0 ? referencesTable(board) : ''}
<div class="charts">${figures.join('\n')}</div>
</section>`;
}

/** The post-training int8 table of a task (runs of suites with `quantize`), as in the Markdown leaderboard. */
function quantizedHtml(board: TaskLeaderboard): string {
  const records = [board.dense, ...board.targets.flatMap((t) => t.entries)].flatMap((g) => g?.records ?? []);
  const table = quantizedTable(records);
  if (!table) return '';
  const head = `<tr>${table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = table.rows.map((cells) => `<tr>${cells.map((c, i) => `<td${i >= 3 && i < cells.length - 1 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('');
  return `<h3>Post-training int8 quantization</h3>\n<table>${head}${body}</table>\n<p class="note">${escapeHtml(table.note)}</p>\n`;
}

function chartCaption(kind: ChartKind): string {
  if (kind === 'compression') return 'Quality vs compression ratio (log2 axis); one curve per method, ± std as vertical rules.';
  if (kind === 'speedup') return 'Quality vs theoretical speedup from MAC counts (log2 axis).';
  return 'Quality vs measured batch-1 latency (p50), one panel per ONNX Runtime provider; horizontal rules: the 95 % interval of each median.';
}

function referencesTable(board: TaskLeaderboard): string {
  const rows = board.references.map(({ reference: ref, speedup, nearest }) => {
    const link = referenceLink(ref);
    const source = `${escapeHtml(ref.source.paper)}, ${escapeHtml(`${ref.source.venue} ${ref.source.year}`)}${
      link ? ` (<span>${escapeHtml(link)}</span>)` : ''
    }`;
    const ours = nearest
      ? `${nearest.label} @ ${nearest.targetLabel}: ${formatNumber(nearest.quality.mean * board.qualityFactor)} (${formatNumber(nearest.theoreticalSpeedup.mean)}×)`
      : '–';
    return `<tr><td>${escapeHtml(ref.method)}</td><td class="num">${formatNumber(ref.top1)}</td><td class="num">${formatNumber(ref.baselineTop1)}</td><td class="num">${formatNumber(ref.flopsReductionPct, 1)} %</td><td class="num">${
      ref.paramsReductionPct === undefined ? '–' : `${formatNumber(ref.paramsReductionPct, 1)} %`
    }</td><td class="num">${formatNumber(speedup)}×</td><td>${escapeHtml(ours)}</td><td>${source}</td><td>${escapeHtml(ref.setup)}</td></tr>`;
  });
  return `<h3>Published references</h3>
<table><tr><th>method</th><th>top1 (%)</th><th>their baseline (%)</th><th>FLOPs ↓</th><th>params ↓</th><th>≈ speedup</th><th>ours at the nearest speedup</th><th>source</th><th>their setup</th></tr>${rows.join('')}</table>
<p class="note">${escapeHtml(`Ours: ${ourSetupText(board)}. Each published row is measured against its own baseline; baselines differ between papers and from ours.`)}</p>`;
}

function environmentTable(environment: HtmlReportInput['environment']): string {
  if (environment.length === 0) return '<p>No environment recorded.</p>';
  return `<table><tr><th>field</th><th>values</th></tr>${environment
    .map((e) => `<tr><td>${escapeHtml(e.field)}</td><td>${escapeHtml(e.values.join(', '))}</td></tr>`)
    .join('')}</table>`;
}

function failedTable(failed: RunRecord[]): string {
  if (failed.length === 0) return '<p>None.</p>';
  return `<table><tr><th>id</th><th>task</th><th>method</th><th>target</th><th>seed</th><th>error</th></tr>${failed
    .map(
      (r) =>
        `<tr><td><code>${escapeHtml(r.id)}</code></td><td>${escapeHtml(r.description.task)}</td><td>${escapeHtml(r.description.method)}</td><td>${escapeHtml(
          targetLabel(r.description.target),
        )}</td><td class="num">${r.description.seed}</td><td class="problem">${escapeHtml(r.error ?? '(no error recorded)')}</td></tr>`,
    )
    .join('')}</table>`;
}

function problemsSection(problems: StoreProblem[]): string {
  return `<h2 id="problems">Records skipped</h2>
<table><tr><th>file</th><th>problem</th></tr>${problems
    .map((p) => `<tr><td><code>${escapeHtml(p.file)}</code></td><td class="problem">${escapeHtml(p.message)}</td></tr>`)
    .join('')}</table>`;
}

/** A task name as a file-name and id fragment. */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}
