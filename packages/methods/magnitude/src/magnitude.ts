import { defineScoreMethod, magnitudeScores, type Allocation, type OptionsOf, type PruningScheduleName, type SCORE_METHOD_OPTIONS } from '@prunebench/pruning';

export type MagnitudeAllocation = Allocation;
export type MagnitudeSchedule = PruningScheduleName;
export type MagnitudeOptions = OptionsOf<typeof SCORE_METHOD_OPTIONS>;

/**
 * Magnitude pruning: |w|, recomputed from the current weights at every step of the schedule; weights pruned in
 * an earlier step never come back.
 */
export const magnitudeMethod = defineScoreMethod({
  name: 'magnitude',
  description: 'Magnitude pruning (Han et al. 2015), one-shot, iterative or gradual cubic (Zhu & Gupta 2017)',
  options: {},
  score: ({ model }, prunable) => magnitudeScores(model, prunable),
});
