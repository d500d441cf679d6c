export * from './rng.js';
export * from './backend.js';
export * from './wasm-kernels/register.js';
export * from './zip.js';
export * from './zip-writer.js';
export * from './repo-root.js';
export * from './wasm-kernels/batch-norm-training.js';
export { wasmThreadsRequested, MAX_WASM_THREADS } from './wasm-threads.js';
export { yieldToEventLoop } from './event-loop.js';
