/**
 * Schedules say how sparse the prunable set is after each pruning step, as sparsities (fraction of the
 * prunable weights removed). `keepCountsForSchedule` turns them into exact keep counts whose last entry is
 * exactly the target, so every schedule ends on it regardless of float rounding.
 */

/** One step straight to the target. */
export function oneShot(finalSparsity: number): number[] {
  return [checkSparsity(finalSparsity, 'finalSparsity')];
}

/**
 * `rounds` steps that each remove the same fraction of the weights still alive (geometric in density),
 * ending exactly on `finalSparsity` (Han et al. 2015's iterative pruning; LTH with a fixed round count).
 */
export function iterativeSchedule(rounds: number, finalSparsity: number, initialSparsity = 0): number[] {
  checkRounds(rounds, 'rounds');
  const df = 1 - checkSparsity(finalSparsity, 'finalSparsity');
  const d0 = 1 - checkSparsity(initialSparsity, 'initialSparsity');
  if (df > d0) throw new Error(`finalSparsity ${finalSparsity} is below initialSparsity ${initialSparsity}`);
  const out: number[] = [];
  for (let i = 1; i <= rounds; i++) out.push(i === rounds ? finalSparsity : 1 - d0 * Math.pow(df / d0, i / rounds));
  return out;
}

/**
 * Remove `pruneFraction` of the weights still alive per step until the target is reached, the last step
 * clipped to land on it (LTH: 20 % per round). Returns at least one step.
 */
export function fixedFractionSchedule(pruneFraction: number, finalSparsity: number): number[] {
  if (!(pruneFraction > 0 && pruneFraction < 1)) throw new Error(`pruneFraction must be in (0, 1), got ${pruneFraction}`);
  const df = 1 - checkSparsity(finalSparsity, 'finalSparsity');
  const out: number[] = [];
  let density = 1;
  // The 1e-12 slack stops float noise from adding a step that prunes nothing.
  while (density * (1 - pruneFraction) > df + 1e-12) {
    density *= 1 - pruneFraction;
    out.push(1 - density);
  }
  out.push(finalSparsity);
  return out;
}

/**
 * Zhu & Gupta (2017) gradual pruning: s_t = s_f + (s_i − s_f)(1 − t/n)^3 for t = 0..n (n + 1 pruning events;
 * the first is at s_i, the last exactly at s_f).
 */
export function cubicSchedule(steps: number, initialSparsity: number, finalSparsity: number): number[] {
  checkRounds(steps, 'steps');
  const si = checkSparsity(initialSparsity, 'initialSparsity');
  const sf = checkSparsity(finalSparsity, 'finalSparsity');
  if (si > sf) throw new Error(`initialSparsity ${si} is above finalSparsity ${sf}`);
  const out: number[] = [];
  for (let t = 0; t <= steps; t++) out.push(t === steps ? sf : sf + (si - sf) * Math.pow(1 - t / steps, 3));
  return out;
}

/**
 * Exact keep counts for a schedule over `prunableTotal` weights: each step rounds (1 − s) · total, counts never
 * grow, and the last step is exactly `finalKeep`.
 */
export function keepCountsForSchedule(sparsities: readonly number[], prunableTotal: number, finalKeep: number): number[] {
  if (sparsities.length === 0) throw new Error('a schedule needs at least one step');
  if (!Number.isInteger(finalKeep) || finalKeep < 0 || finalKeep > prunableTotal) {
    throw new Error(`finalKeep must be an integer in [0, ${prunableTotal}], got ${finalKeep}`);
  }
  const counts: number[] = [];
  let previous = prunableTotal;
  sparsities.forEach((s, i) => {
    const raw = i === sparsities.length - 1 ? finalKeep : Math.round((1 - s) * prunableTotal);
    const k = Math.max(finalKeep, Math.min(previous, raw));
    counts.push(k);
    previous = k;
  });
  return counts;
}

/** The sparsity (fraction of prunable weights removed) that keeping `keepCount` of `prunableTotal` means. */
export function sparsityOfKeepCount(keepCount: number, prunableTotal: number): number {
  return prunableTotal === 0 ? 0 : 1 - keepCount / prunableTotal;
}

function checkSparsity(s: number, field: string): number {
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 1) throw new Error(`${field} must be in [0, 1], got ${s}`);
  return s;
}

function checkRounds(n: number, field: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${field} must be an integer >= 1, got ${n}`);
}
