/** Small helpers the perf scripts share: `--name value` arguments and tf.profile's kernel-time table. */
import * as tf from '@tensorflow/tfjs';

type Profile = Awaited<ReturnType<typeof tf.profile>>;

/** `--name value` from the command line, or undefined. */
export function stringArg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

/** `--name <positive integer>`, else `fallback`; anything else is an error naming the flag. */
export function intArg(name: string, fallback: number): number {
  const raw = stringArg(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got '${raw}'`);
  return value;
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
