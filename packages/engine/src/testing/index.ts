// Helpers for the packages' tests (never imported by non-test code).
export { expectRelativelyClose } from './closeness.js';
export { isCi, itRequires, requirementOutcome } from './required-in-ci.js';
export type { RequirementOutcome, TestRequirement } from './required-in-ci.js';
export { FIRST_DISPATCH_TIMEOUT_MS, webgpuRequirement } from './webgpu-requirement.js';
