import type { FineTuneRecipe } from './tasks/types.js';

/** Learning rate after `done` of `total` examples of a train call (cosine decay to 0, or constant). */
export function learningRateAt(recipe: FineTuneRecipe, lrScale: number, done: number, total: number): number {
  const base = recipe.learningRate * lrScale;
  if (recipe.schedule === 'constant' || total <= 0) return base;
  return 0.5 * base * (1 + Math.cos((Math.PI * Math.min(done, total)) / total));
}
