/**
 * Tests that need something outside npm (a browser, a WebGPU adapter): where it is present the test runs;
 * where it is missing the test is skipped with a loud `SKIPPED:` line, except in CI (`CI=true`), where the
 * test fails and names what to install. Test files only: `import { itRequires } from '@prunebench/engine/testing'`.
 */
import { it } from 'vitest';

export interface TestRequirement {
  /** What the test needs, e.g. `chromium` or `a WebGPU adapter`. */
  what: string;
  /** Why it is missing here (e.g. `/usr/bin/chromium not found`); undefined when it is present. */
  missing: string | undefined;
  /** How to get it, e.g. `npm run setup`. */
  install: string;
}

/** True where CI requires every test to run: the `CI` environment variable is `true` or `1`. */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1';
}

export type RequirementOutcome = { run: true } | { run: false; failure: string } | { run: false; skipped: string };

/** What a test with this requirement does here: run, fail (missing in CI) or skip (missing elsewhere). */
export function requirementOutcome(name: string, requirement: TestRequirement, env: NodeJS.ProcessEnv = process.env): RequirementOutcome {
  if (requirement.missing === undefined) return { run: true };
  const why = `${requirement.what} is missing (${requirement.missing}); install it with: ${requirement.install}`;
  if (isCi(env)) return { run: false, failure: `${name}: required in CI (CI=${env.CI}), but ${why}` };
  return { run: false, skipped: `SKIPPED: ${name}: ${why}` };
}

type TestBody = () => unknown;

/** Appended to the name of every test that has a requirement, e.g. `[needs a WebGPU adapter]`. */
export function requirementMarker(requirement: Pick<TestRequirement, 'what'>): string {
  return `[needs ${requirement.what}]`;
}

/** `it(name, body)` that follows the rule above; the SKIPPED line is printed when the file is collected. */
export function itRequires(requirement: TestRequirement, name: string, body: TestBody, timeout?: number): void {
  const outcome = requirementOutcome(name, requirement);
  // The marker lets scripts/test-summary.mjs count, per requirement, the tests that ran, failed or were skipped.
  name = `${name} ${requirementMarker(requirement)}`;
  if (outcome.run) {
    it(name, body, timeout);
  } else if ('failure' in outcome) {
    it(name, () => {
      throw new Error(outcome.failure);
    });
  } else {
    console.warn(outcome.skipped);
    it.skip(name, body);
  }
}
