import type { RunRecord } from '@prunebench/harness';

/** Each environment field with the distinct values seen across the runs (several when runs came from several machines). */
export function environmentSummary(records: RunRecord[]): { field: string; values: string[] }[] {
  const fields = new Map<string, Set<string>>();
  const add = (field: string, value: unknown) => {
    if (value === undefined) return;
    const set = fields.get(field) ?? new Set<string>();
    set.add(value === null ? '(none)' : String(value));
    fields.set(field, set);
  };
  for (const record of records) {
    const env = record.environment;
    if (!env) continue;
    add('backend', env.backend);
    add('device', env.device);
    if (env.adapter) add('WebGPU adapter', `${env.adapter.description}${env.adapter.software ? ' (software adapter: correctness only, its times are no GPU speed figure)' : ''}`);
    add('git commit', env.gitCommit);
    add('node', env.node);
    add('platform', env.platform);
    add('cpus', env.cpus);
    for (const [name, version] of Object.entries(env.versions ?? {})) add(`version: ${name}`, version);
  }
  return [...fields.entries()].map(([field, values]) => ({ field, values: [...values].sort() }));
}
