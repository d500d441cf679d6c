export * from './tasks.js';
export * from './read.js';
export * from './verify.js';
export * from './sources.js';
export * from './mrpc.js';
export * from './resolve.js';
export * from './encode.js';
