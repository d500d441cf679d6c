export * from './resnet-cifar-step.js';
export type { CompiledTrainingStep } from './training-step.js';
export { compiledStepEnv } from './env.js';
export { cachedComputePipeline } from './pipeline-cache.js';
export * as compiledStepKernels from './wgsl.js';
export type { CompiledOptimizer } from './wgsl.js';
export * from './bert-step.js';
export * as compiledBertKernels from './bert-wgsl.js';
export { fusedAxpy, fusedMaskedUpdate, fusedPenaltyGradient, fusedSumsOfSquares, type FusedUpdateItem, type FusedUpdateSettings } from './fused-update.js';
