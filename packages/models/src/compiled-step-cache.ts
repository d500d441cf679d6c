import type { CompiledTrainingStep } from '@prunebench/engine';

/**
 * The compiled training steps built for each model (compiled-step.ts), by optimizer and input shape. Kept apart so
 * the models' own dispose() frees them too: their activation, gradient and state buffers are GPU memory (hundreds of
 * megabytes for ResNet-56 at batch 128) that a garbage collector would free late, if at all.
 */
export const compiledStepsByModel = new WeakMap<object, Map<string, Promise<CompiledTrainingStep>>>();

/** Frees the compiled steps built for a model (their GPU buffers); the next compiledTrainingStepFor builds afresh. */
export async function disposeCompiledTrainingSteps(model: object): Promise<void> {
  const byShape = compiledStepsByModel.get(model);
  if (!byShape) return;
  compiledStepsByModel.delete(model);
  for (const step of byShape.values()) {
    try {
      (await step).dispose();
    } catch {
      // a step that failed to build holds nothing
    }
  }
}
