import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GLUE_TASKS, GLUE_TASK_NAMES } from './tasks.js';
import { GLUE_DOWNLOADS } from './sources.js';

const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../../../datasets/glue.json', import.meta.url)), 'utf8')) as {
  tasks: Record<string, { folder: string; download: unknown[]; rows: unknown; labels: string[]; metrics: string[]; textFields: string[]; headers: Record<string, string | null> }>;
};

describe('datasets/glue.json and the code agree', () => {
  it.each(GLUE_TASK_NAMES)('%s', (name) => {
    const m = manifest.tasks[name];
    const info = GLUE_TASKS[name];
    expect(m.folder).toBe(info.folder);
    expect(m.rows).toEqual(info.rows);
    expect(m.labels).toEqual(info.labelNames);
    expect(m.metrics).toEqual(info.metrics);
    expect(m.textFields).toEqual(info.textFields);
    expect(m.download).toEqual(GLUE_DOWNLOADS[name]);
    for (const split of ['train', 'dev', 'test'] as const) expect(m.headers[split]).toBe(info.layouts[split].header?.join('\t') ?? null);
  });
});
