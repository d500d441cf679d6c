import { describe, expect, it } from 'vitest';
import { isCi, itRequires, requirementOutcome, type TestRequirement } from '@prunebench/engine/testing';

const present: TestRequirement = { what: 'chromium', missing: undefined, install: 'npm run setup' };
const absent: TestRequirement = { what: 'chromium', missing: '/usr/bin/chromium not found', install: 'npm run setup' };

describe('requirementOutcome', () => {
  it('runs a test whose requirement is present, in CI or not', () => {
    expect(requirementOutcome('t', present, {})).toEqual({ run: true });
    expect(requirementOutcome('t', present, { CI: 'true' })).toEqual({ run: true });
  });

  it('skips loudly outside CI, naming what is missing and how to install it', () => {
    expect(requirementOutcome('renders', absent, {})).toEqual({
      run: false,
      skipped: 'SKIPPED: renders: chromium is missing (/usr/bin/chromium not found); install it with: npm run setup',
    });
    expect(requirementOutcome('renders', absent, { CI: 'false' })).toMatchObject({ run: false, skipped: expect.stringMatching(/^SKIPPED: /) });
  });

  it('fails in CI (CI=true or CI=1)', () => {
    for (const CI of ['true', '1']) {
      const outcome = requirementOutcome('renders', absent, { CI });
      expect(outcome).toEqual({ run: false, failure: `renders: required in CI (CI=${CI}), but chromium is missing (/usr/bin/chromium not found); install it with: npm run setup` });
    }
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({})).toBe(false);
  });
});

let ranBody = false;
itRequires(present, 'itRequires runs the body when the requirement is present', () => {
  ranBody = true;
  expect(present.missing).toBeUndefined();
});
it('itRequires ran the body above', () => expect(ranBody).toBe(true));
