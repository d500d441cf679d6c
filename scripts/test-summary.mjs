// Sums the per-package vitest JSON results (written by the shared vitest config) into one closing line.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, '..', 'reports', 'tmp', 'vitest');
if (!existsSync(dir)) {
  console.error(`test-summary: no results in ${dir}`);
  process.exit(1);
}
let passed = 0, failed = 0, skipped = 0;
// Tests with a requirement (itRequires in @prunebench/engine/testing) end their name with `[needs <what>]`.
const byRequirement = new Map();
for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  for (const file of r.testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      const what = /\[needs ([^\]]+)\]$/.exec(test.title ?? '')?.[1];
      if (!what) continue;
      const counts = byRequirement.get(what) ?? { passed: 0, failed: 0, skipped: 0 };
      if (test.status === 'passed') counts.passed++;
      else if (test.status === 'failed') counts.failed++;
      else counts.skipped++;
      byRequirement.set(what, counts);
    }
  }
}
for (const [what, c] of [...byRequirement].sort()) {
  console.log(`tests that need ${what}: ${c.passed} ran and passed, ${c.failed} failed, ${c.skipped} skipped`);
}
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed > 0 || passed === 0 ? 1 : 0);
