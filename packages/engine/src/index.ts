export * from './rng.js';
export * from './backend.js';
export * from './wasm-kernels/register.js';
