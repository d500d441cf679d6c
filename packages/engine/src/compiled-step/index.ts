export * from './resnet-cifar-step.js';
export * as compiledStepKernels from './wgsl.js';
export type { CompiledOptimizer } from './wgsl.js';
