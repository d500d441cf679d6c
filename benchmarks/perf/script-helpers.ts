/** Small helpers the benchmark scripts share: strict command-line parsing (node:util parseArgs) and tf.profile's kernel-time table. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { parseBackendRequest, type BackendRequest } from '@prunebench/engine';

type Profile = Awaited<ReturnType<typeof tf.profile>>;

/** A bad command line: the message and the usage on stderr, exit code 2, before anything is measured or written. */
export function exitWithUsage(script: string, message: string, usage: string): never {
  console.error(`${script}: ${message}\n${usage}`);
  process.exit(2);
}

/** What `scriptArgs` parsed: each option's value by name, and the positionals. */
export interface ScriptArgs {
  positionals: string[];
  /** `--name value`, or undefined. */
  string(name: string): string | undefined;
  /** `--name <positive integer>`, else `fallback`; anything else is a usage error naming the flag. */
  int(name: string, fallback: number): number;
  /** `--name` given (a boolean option). */
  flag(name: string): boolean;
}

/**
 * Parses process.argv with node:util's parseArgs, strictly: an unknown option, a missing value, a value given to a
 * flag, or positionals outside `positionals` end the script with exit code 2 (exitWithUsage).
 */
export function scriptArgs(
  script: string, usage: string, options: { strings?: readonly string[]; flags?: readonly string[]; positionals?: { min: number; max: number } },
  argv: string[] = process.argv.slice(2),
): ScriptArgs {
  const declared = Object.fromEntries([
    ...(options.strings ?? []).map((name) => [name, { type: 'string' as const }]),
    ...(options.flags ?? []).map((name) => [name, { type: 'boolean' as const }]),
  ]);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: declared, strict: true, allowPositionals: options.positionals !== undefined });
  } catch (error) {
    exitWithUsage(script, (error as Error).message, usage);
  }
  const { min, max } = options.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    const range = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    exitWithUsage(script, `expected ${range} argument${(max === Infinity ? min : max) === 1 ? '' : 's'}, got ${parsed.positionals.length}`, usage);
  }
  const string = (name: string) => {
    const value = parsed.values[name];
    return typeof value === 'string' ? value : undefined;
  };
  return {
    positionals: parsed.positionals,
    string,
    int(name, fallback) {
      const raw = string(name);
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value <= 0) exitWithUsage(script, `--${name} must be a positive integer, got '${raw}'`, usage);
      return value;
    },
    flag: (name) => parsed.values[name] === true,
  };
}

/** `--backend` (default wasm) as a backend request; a bad value is a usage error naming the flag (exitWithUsage). */
export function backendOption(script: string, usage: string, args: ScriptArgs): BackendRequest {
  try {
    return parseBackendRequest(args.string('backend') ?? 'wasm', '--backend');
  } catch (error) {
    exitWithUsage(script, (error as Error).message, usage);
  }
}

/** What a result file starts with: the benchmark, when, the machine (its load when the script began and now), node. */
export function resultHeader(benchmark: string, loadBefore: number[]) {
  return {
    benchmark,
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg: { before: loadBefore, after: os.loadavg() } },
    node: process.version,
  };
}

/** Writes a result as JSON to --out, else benchmarks/perf/results/<name>-<backend>-<date>[-<label>].json; returns the path. */
export function writeResult(args: ScriptArgs, name: string, backend: string, result: { date: string }): string {
  const label = args.string('label');
  const repo = join(dirname(new URL(import.meta.url).pathname), '..', '..');
  const out = args.string('out') ?? join(repo, 'benchmarks/perf/results', `${name}-${backend}-${result.date.slice(0, 10)}${label ? `-${label}` : ''}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  return out;
}

/** A Markdown table of a tf.profile result: kernel time and calls per kernel name, the top `rows` by time. */
export function kernelTimeTable(profile: Profile, title: string, rows: number, digits: number): string[] {
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls += 1;
    byKernel.set(k.name, entry);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  return [
    `| ${title} | calls | ms | share |`,
    '| --- | ---: | ---: | ---: |',
    ...[...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, rows)
      .map(([name, e]) => `| ${name} | ${e.calls} | ${e.ms.toFixed(digits)} | ${((100 * e.ms) / total).toFixed(digits)} % |`),
    `| all kernels | ${profile.kernels.length} | ${total.toFixed(0)} | 100 % |`,
  ];
}
