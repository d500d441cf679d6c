export * from './params.js';
export * from './macs.js';
export * from './quality.js';
export * from './sparse-encoding.js';
export * from './latency/summary.js';
export * from './latency/session.js';
export * from './latency/measure.js';
export * from './flatness.js';
