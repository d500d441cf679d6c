/**
 * A small progress bar with ETA on stderr. On a terminal it redraws one line in place; in a log (not a
 * TTY) it prints a plain line at every quarter, so CI logs stay readable.
 */
export class ProgressBar {
  private readonly started: number;
  private lastQuarter = -1;
  private drawn = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly isTTY: boolean,
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'ex',
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  update(done: number): void {
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    if (this.isTTY) {
      const width = 24;
      const filled = Math.round(fraction * width);
      this.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct(fraction)} ${done}/${this.total} ${this.unit}  ETA ${this.eta(fraction)}  ${this.label}\x1b[K`);
      this.drawn = true;
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.write(`  ${this.label}: ${pct(fraction)} (${done}/${this.total} ${this.unit}, ETA ${this.eta(fraction)})\n`);
    }
  }

  /** Ends the bar's line (TTY) so the next output starts on a fresh line. */
  done(): void {
    if (this.isTTY && this.drawn) this.write('\n');
    this.drawn = false;
  }

  eta(fraction: number): string {
    if (fraction <= 0) return '?';
    const elapsed = (this.now() - this.started) / 1000;
    return formatDuration((elapsed / fraction) * (1 - fraction));
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

function pct(fraction: number): string {
  return `${Math.floor(fraction * 100)}%`.padStart(4);
}
