import { safeMethod } from './safe.js';

export {
  safeMethod,
  SAFE_DEFAULTS,
  GRADIENT_EVALUATIONS_PER_SAFE_STEP,
  plannedSafeSteps,
  type SafeOptions,
} from './safe.js';
export { projectOntoTopK, type SparsityScope } from './projection.js';
export { samPerturbation, globalNorm, SAM_NORM_EPSILON } from './sam.js';
export { penaltyAt, learningRateAt, type PenaltySchedule } from './schedules.js';
export { reestimateBatchNorm, batchNormPrefixes } from './batchnorm.js';
export default safeMethod;
