import { defineScoreMethod, randomScores, type OptionsOf, type SCORE_METHOD_OPTIONS } from '@prunebench/pruning';

export type RandomOptions = OptionsOf<typeof SCORE_METHOD_OPTIONS>;

/** Random pruning (ShrinkBench's RandomPruning baseline): uniform random scores, a fresh draw at every step. */
export const randomMethod = defineScoreMethod({
  name: 'random',
  description: 'Random unstructured pruning, the control baseline',
  options: {},
  score: ({ model, rng }, prunable, step) => randomScores(model, prunable, rng.fork(step.index === 0 ? 'random-scores' : `random-scores-${step.index + 1}`)),
});
