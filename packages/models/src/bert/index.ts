export * from './arch.js';
export * from './model.js';
export * from './trace.js';
export * from './structure.js';
export * from './family.js';
export * from './huggingface.js';
