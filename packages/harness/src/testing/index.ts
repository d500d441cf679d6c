/**
 * Test helpers of the harness (`@prunebench/harness/testing`), for tests that run the harness with real methods
 * from a package that may depend on them (the cli): the synthetic GLUE task and small fake tasks and methods.
 */
export * from './synthetic-glue.js';
export * from './fake-task.js';
export * from './fake-methods.js';
export * from './memory-checkpoints.js';
