import { describe, expect, it } from 'vitest';
import { ProgressBar, formatDuration } from './progress.js';

describe('ProgressBar', () => {
  it('prints plain lines at each quarter with an ETA when not on a terminal', () => {
    let now = 0;
    const lines: string[] = [];
    const bar = new ProgressBar((t) => lines.push(t), false, 'run', 100, 'ex', () => now);
    now = 10_000;
    bar.update(10);
    bar.update(20);
    now = 20_000;
    bar.update(50);
    bar.update(100);
    expect(lines).toEqual([
      '  run:  10% (10/100 ex, ETA 1:30)\n',
      '  run:  50% (50/100 ex, ETA 0:20)\n',
      '  run: 100% (100/100 ex, ETA 0:00)\n',
    ]);
  });

  it('redraws one line on a terminal', () => {
    const out: string[] = [];
    const bar = new ProgressBar((t) => out.push(t), true, 'x', 4, 'ex', () => 0);
    bar.update(2);
    bar.done();
    expect(out[0]).toMatch(/^\r\[#{12}-{12}\]  50% 2\/4 ex {2}ETA /);
    expect(out[1]).toBe('\n');
  });

  it('formats durations', () => {
    expect(formatDuration(59.4)).toBe('0:59');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Infinity)).toBe('?');
  });
});
