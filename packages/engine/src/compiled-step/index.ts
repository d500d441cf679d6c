export * from './resnet-cifar-step.js';
export * as compiledStepKernels from './wgsl.js';
