/**
 * Checks that two stores of the same suite, run on two backends, agree (rules: @prunebench/report's
 * checkBackendAgreement) and prints the table beside both leaderboards' backends and devices.
 *
 *   npx tsx benchmarks/checks/backend-agreement.ts <store A> <store B> [--out file.md]
 *
 * Exit code 0 when they agree, 1 when they do not, 2 on bad arguments or unreadable stores.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FINAL_MODEL_FILE, type RunRecord } from '@prunebench/harness';
import { readSafetensors } from '@prunebench/models';
import { backendAgreementMarkdown, checkBackendAgreement, environmentSummary, readRunStore } from '@prunebench/report';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { out: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (error) {
    console.error(`backend-agreement: ${(error as Error).message}\nusage: backend-agreement.ts <store A> <store B> [--out file.md]`);
    return 2;
  }
  const stores = parsed.positionals;
  if (stores.length !== 2) {
    console.error('usage: backend-agreement.ts <store A> <store B> [--out file.md]');
    return 2;
  }
  const contents: ReturnType<typeof readRunStore>[] = [];
  for (const dir of stores) {
    try {
      contents.push(readRunStore(dir));
    } catch (error) {
      console.error(`backend-agreement: ${(error as Error).message}`);
      return 2;
    }
  }
  const finalWeights = async (which: 'a' | 'b', record: RunRecord) => {
    const file = join(stores[which === 'a' ? 0 : 1]!, record.id, FINAL_MODEL_FILE);
    if (!existsSync(file)) return null;
    return new Map([...(await readSafetensors(file))].map(([name, t]) => [name, t.data]));
  };
  const { rows, problems } = await checkBackendAgreement(contents[0]!.records, contents[1]!.records, finalWeights);
  const describe = (i: number) =>
    environmentSummary(contents[i]!.records)
      .filter((e) => e.field === 'backend' || e.field === 'device')
      .map((e) => `${e.field} ${e.values.join(', ')}`)
      .join('; ');
  const text = [
    `Store A: ${stores[0]} (${describe(0)})`,
    `Store B: ${stores[1]} (${describe(1)})`,
    '',
    backendAgreementMarkdown(rows),
    '',
    problems.length === 0 ? `${rows.length} runs, all agree` : `${rows.length} runs, ${problems.length} disagreement(s):\n  ${problems.join('\n  ')}`,
    '',
  ].join('\n');
  process.stdout.write(text);
  if (parsed.values.out) {
    mkdirSync(dirname(parsed.values.out), { recursive: true });
    writeFileSync(parsed.values.out, text);
  }
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
