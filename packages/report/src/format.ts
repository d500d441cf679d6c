import type { Summary } from './run-groups.js';

/** Fixed decimals, or an en dash for a missing value. */
export function formatNumber(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(digits);
}

/** `93.12 ± 0.20` (the ± part left out when only one seed ran). */
export function formatMeanStd(summary: Summary, factor = 1, digits = 2): string {
  const mean = formatNumber(summary.mean * factor, digits);
  return summary.n > 1 ? `${mean} ± ${formatNumber(summary.std * factor, digits)}` : mean;
}

/** 1234567 → `1.23M`, 45200 → `45.2k`. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return `${Math.round(value)}`;
}

export function formatPercent(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)} %` : '–';
}

/** Text safe inside a Markdown table cell. */
export function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const lines = [
    `| ${header.map(markdownCell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(markdownCell).join(' | ')} |`),
  ];
  return lines.join('\n');
}
