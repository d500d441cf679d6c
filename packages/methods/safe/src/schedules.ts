export type PenaltySchedule = 'constant' | 'linear' | 'cosine';

/**
 * The penalty λ_t at step t (0-based) of T, as in the reference implementation: constant λ; linear λ·t/T;
 * cosine λ·(1 − cos(πt/T))/2 (starts at 0, grows to λ).
 */
export function penaltyAt(step: number, totalSteps: number, lambda: number, schedule: PenaltySchedule): number {
  if (schedule === 'constant' || totalSteps <= 0) return lambda;
  const progress = Math.min(1, Math.max(0, step / totalSteps));
  if (schedule === 'linear') return lambda * progress;
  return lambda * 0.5 * (1 - Math.cos(Math.PI * progress));
}

/**
 * Learning rate at step t (0-based) of T: linear warm-up over the first `warmupSteps` steps (reaching the peak
 * at the end of warm-up), then cosine decay from the peak to 0 over the remaining steps.
 */
export function learningRateAt(step: number, totalSteps: number, peak: number, warmupSteps: number): number {
  if (warmupSteps > 0 && step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const decaySteps = totalSteps - warmupSteps;
  if (decaySteps <= 0) return peak;
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
}
