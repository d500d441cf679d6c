import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRng, findRepoRoot } from '@prunebench/engine';
import { describe, expect, it } from 'vitest';
import type { RunRecord } from './record.js';
import { recordDefect } from './record-validation.js';
import { LOCK_FILE } from './run-files.js';
import { FINAL_MODEL_FILE } from './run-files.js';
import { RunStore, isTemporaryFileName } from './store.js';

const root = findRepoRoot()!;
const CHILD = join(root, 'packages/harness/src/testing/crash-run.ts');
const KILLS = 10;

interface ChildResult {
  code: number | null;
  lines: string[];
  killed: boolean;
  /** The last line the child printed before it was killed ('' when killed during start-up). */
  lastLine?: string;
  stderr: string;
}

/** Runs the crash-run child on `store`; with `kill`, SIGKILLs it `delayMs` after its `afterLines`-th line (0: after start). */
function runChild(store: string, kill?: { afterLines: number; delayMs: number }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // node itself, not the tsx wrapper: SIGKILL of the wrapper would leave its node child running
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, store], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buffered = '';
    let killed = false;
    let lastLine: string | undefined;
    const killSoon = () => setTimeout(() => {
      if (child.exitCode !== null) return;
      lastLine = lines[lines.length - 1] ?? '';
      killed = child.kill('SIGKILL');
    }, kill!.delayMs);
    if (kill && kill.afterLines === 0) killSoon();
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (kill && lines.length === kill.afterLines) killSoon();
      }
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines, killed, lastLine, stderr }));
  });
}

/** Which part of a run the kill interrupted, from the child's last line. */
function phaseOf(lastLine: string, budget: number): string {
  if (lastLine === '') return 'start-up';
  const [event, , used] = lastLine.split(' ');
  if (event === 'train') return Number(used) >= budget ? 'evaluation and saving' : 'training';
  if (event === 'start') return 'training';
  return 'between runs';
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const comparable = (r: RunRecord) => ({ status: r.status, metrics: r.metrics, layerDensity: r.layerDensity, budget: r.budget, error: r.error });

describe('crash safety', () => {
  it('survives SIGKILL at random points: runs complete, records validate, no temporary file is left, weights equal', async () => {
    const reference = mkdtempSync(join(tmpdir(), 'prunebench-crash-ref-'));
    const uninterrupted = await runChild(reference);
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    const expected = new RunStore(reference);
    const budget = 96;
    let identicalWeights = 0;
    let checkedRuns = 0;
    /** A store the child completed: every record validates and equals the uninterrupted run's, weights byte for byte. */
    const verify = (dir: string) => {
      const store = new RunStore(dir);
      expect(store.ids()).toEqual(expected.ids());
      for (const id of store.ids()) {
        const record = JSON.parse(readFileSync(join(store.runDir(id), 'record.json'), 'utf8'));
        expect(recordDefect(record, id)).toBeNull();
        expect(record.status).toBe('completed');
        expect(comparable(record)).toEqual(comparable(expected.readRecord(id)));
        checkedRuns++;
        if (readFileSync(join(store.runDir(id), FINAL_MODEL_FILE)).equals(readFileSync(join(expected.runDir(id), FINAL_MODEL_FILE)))) identicalWeights++;
      }
      return filesUnder(dir).filter((f) => isTemporaryFileName(f.split('/').pop()!) || f.endsWith(LOCK_FILE) || f.includes('/checkpoint/'));
    };

    const rng = new SeededRng(2026);
    const phases = new Map<string, number>();
    const leftovers: string[] = [];
    let temporariesSeen = 0;
    let kills = 0;
    let attempts = 0;
    let completions = 0;
    let store = mkdtempSync(join(tmpdir(), 'prunebench-crash-'));
    while (kills < KILLS) {
      // Every fourth attempt during start-up; the others at a random time after the (resumed) child's first event
      // (a whole suite then takes about a second).
      const kill = attempts++ % 4 === 3
        ? { afterLines: 0, delayMs: 300 + Math.floor(rng.next() * 900) }
        : { afterLines: 1, delayMs: Math.floor(rng.next() * 900) };
      const result = await runChild(store, kill);
      if (result.killed) {
        kills++;
        const phase = phaseOf(result.lastLine!, budget);
        phases.set(phase, (phases.get(phase) ?? 0) + 1);
        temporariesSeen += filesUnder(store).filter((f) => isTemporaryFileName(f.split('/').pop()!)).length;
        continue;
      }
      expect(result.code, `${result.lines.join('\n')}\n${result.stderr}`).toBe(0); // finished before the kill point: check it, start afresh
      leftovers.push(...verify(store));
      completions++;
      store = mkdtempSync(join(tmpdir(), 'prunebench-crash-'));
    }
    const final = await runChild(store);
    expect(final.code, `${final.lines.join('\n')}\n${final.stderr}`).toBe(0);
    expect(final.lines[final.lines.length - 1]).toBe('suite-done');
    leftovers.push(...verify(store));
    completions++;
    console.log(
      `crash-safety: ${kills} kills over ${completions} completed suites; phases hit: ${[...phases].map(([p, n]) => `${p} ${n}`).join(', ')}; ` +
        `temporary files found right after kills ${temporariesSeen}; identical final weights ${identicalWeights}/${checkedRuns}; ` +
        `temporary files, locks or checkpoints left ${leftovers.length}`,
    );
    expect(phases.size).toBeGreaterThanOrEqual(2);
    expect(identicalWeights).toBe(checkedRuns);
    expect(leftovers).toEqual([]);
  }, 240_000);
});
