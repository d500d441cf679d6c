import type { FineTuneRecipe } from './tasks/types.js';

/** Learning rate after `done` of `total` examples of a train call (cosine decay to 0, linear warm-up then linear decay, or constant). */
export function learningRateAt(recipe: FineTuneRecipe, lrScale: number, done: number, total: number): number {
  const base = recipe.learningRate * lrScale;
  if (recipe.schedule === 'constant' || total <= 0) return base;
  if (recipe.schedule === 'linear') {
    const warmup = Math.floor((recipe.warmupFraction ?? 0) * total);
    if (done < warmup) return (base * (done + 1)) / warmup;
    return (base * Math.max(0, total - done)) / Math.max(1, total - warmup);
  }
  return 0.5 * base * (1 + Math.cos((Math.PI * Math.min(done, total)) / total));
}
