import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { checkNmPattern, countKept, keepCountForTarget, relativeReconstructionError, type PruningTarget } from '@prunebench/pruning';
import { createToyConvModel, createToyModel, SimpleBudgetedTrainer, snapshotValues, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { sparsegptMethod, sparsegptSolve } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Gram matrix XᵀX of `rows` correlated random inputs of width n (a shared factor makes the inputs correlated). */
function correlatedGram(rng: SeededRng, rows: number, n: number): { x: Float64Array; gram: Float64Array } {
  const x = new Float64Array(rows * n);
  const shared = rng.normalArray(rows, 1);
  const noise = rng.normalArray(rows * n, 1);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) x[r * n + j] = shared[r] * (1 + j / n) + 0.5 * noise[r * n + j];
  const gram = new Float64Array(n * n);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) gram[i * n + j] += x[r * n + i] * x[r * n + j];
  return { x, gram };
}

/** Inverse of a small square matrix by Gauss-Jordan elimination with partial pivoting. */
function invert(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const pivot = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row) => row.slice(n));
}

/**
 * The dense reference of SparseGPT's update for a fixed mask: columns left to right; pruning w_c spreads
 * δ = w_c / [H_c⁻¹]_cc over the columns c.. by δ · [H_c⁻¹]_{c,·}, with H_c⁻¹ the explicit inverse of H restricted
 * to columns c and after (the columns not yet frozen).
 */
function referenceUpdate(w: number[][], mask: Uint8Array, h: number[][]): number[][] {
  const rows = w.length;
  const cols = h.length;
  const out = w.map((row) => [...row]);
  for (let c = 0; c < cols; c++) {
    const sub = invert(h.slice(c).map((row) => row.slice(c)));
    for (let r = 0; r < rows; r++) {
      if (mask[r * cols + c]) continue;
      const delta = out[r][c] / sub[0][0];
      for (let j = c; j < cols; j++) out[r][j] -= delta * sub[0][j - c];
      out[r][c] = 0;
    }
  }
  return out;
}

describe('sparsegpt solver', () => {
  it('matches the explicit-inverse reference on a 3 × 8 layer, and prunes exactly the count asked for', () => {
    const rng = new SeededRng(11);
    const [rows, cols] = [3, 8];
    const w = Float64Array.from(rng.normalArray(rows * cols, 1));
    const { gram } = correlatedGram(rng, 64, cols);
    const dampening = 0.01;
    const solved = sparsegptSolve(w, rows, cols, gram, { kind: 'count', prune: 12 }, { dampening, blockSize: 128 });
    expect(solved.mask.reduce((a, b) => a + b, 0)).toBe(12);
    const meanDiagonal = Array.from({ length: cols }, (_, i) => gram[i * cols + i]).reduce((a, b) => a + b, 0) / cols;
    const h = Array.from({ length: cols }, (_, i) => Array.from({ length: cols }, (_, j) => gram[i * cols + j] + (i === j ? dampening * meanDiagonal : 0)));
    const expected = referenceUpdate(Array.from({ length: rows }, (_, r) => Array.from(w.slice(r * cols, (r + 1) * cols))), solved.mask, h);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(solved.weights[r * cols + c]).toBeCloseTo(expected[r][c], 9);
  });

  it('gives the same result with small blocks (the lazy batched update is exact)', () => {
    const rng = new SeededRng(5);
    const w = Float64Array.from(rng.normalArray(4 * 16, 1));
    const { gram } = correlatedGram(rng, 80, 16);
    const pattern = { kind: 'n-of-m', n: 2, m: 4 } as const;
    const big = sparsegptSolve(w, 4, 16, gram, pattern, { dampening: 0.01, blockSize: 128 });
    const small = sparsegptSolve(w, 4, 16, gram, pattern, { dampening: 0.01, blockSize: 4 });
    expect(Array.from(small.mask)).toEqual(Array.from(big.mask));
    for (let i = 0; i < w.length; i++) expect(small.weights[i]).toBeCloseTo(big.weights[i], 10);
  });

  it('reconstructs the layer better than magnitude pruning at the same sparsity on random data', () => {
    const rng = new SeededRng(2);
    const [outputs, inputs] = [6, 32];
    const w = Float64Array.from(rng.normalArray(outputs * inputs, 1));
    const { gram } = correlatedGram(rng, 256, inputs);
    const prune = (outputs * inputs) / 2;
    const solved = sparsegptSolve(w, outputs, inputs, gram, { kind: 'count', prune }, { dampening: 0.01, blockSize: 8 });
    // Magnitude: zero the half with the smallest |w|, no update.
    const order = Array.from(w.keys()).sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
    const magnitude = Float64Array.from(w);
    for (const i of order.slice(0, prune)) magnitude[i] = 0;
    // relativeReconstructionError takes the reduction view [inputs, outputs].
    const view = (m: Float64Array) => Float64Array.from({ length: m.length }, (_, k) => m[(k % outputs) * inputs + Math.floor(k / outputs)]);
    const sparse = relativeReconstructionError(view(w), view(solved.weights), gram, inputs, outputs);
    const mag = relativeReconstructionError(view(w), view(magnitude), gram, inputs, outputs);
    expect(sparse).toBeLessThan(mag * 0.8);
    expect(solved.weights.filter((v) => v === 0).length).toBe(prune);
  });
});

describe('sparsegpt method', () => {
  it('is the package default export, with no fine-tuning by default', () => {
    expect(defaultExport).toBe(sparsegptMethod);
    expect(sparsegptMethod.defaults).toMatchObject({ calibrationExamples: 128, dampening: 0.01, blockSize: 128, finetune: false });
  });

  it('reaches a sparsity target exactly, updates the kept weights, spends no budget, and records errors per layer', async () => {
    const model = createToyModel({ seed: 9 });
    const before = await snapshotValues(model);
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 100, seed: 1 });
    const target: PruningTarget = { kind: 'sparsity', fraction: 0.5 };
    const result = await sparsegptMethod.run(testMethodContext(sparsegptMethod, { model, trainer, target, options: { calibrationExamples: 64 } }));
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
    expect(trainer.usedExamples()).toBe(0);
    const fc1 = await model.params.get('fc1.weight')!.data();
    const mask = await result.masks!.get('fc1.weight')!.data();
    let moved = 0;
    for (let i = 0; i < fc1.length; i++) {
      if (mask[i] === 0) expect(fc1[i]).toBe(0);
      else if (Math.abs(fc1[i] - before.get('fc1.weight')![i]) > 1e-6) moved++;
    }
    expect(moved).toBeGreaterThan(0);
    const details = result.details as { order: string[]; reconstructionError: Record<string, number>; forwardOnlyExamples: number };
    expect(details.order).toEqual(['fc1.weight', 'fc2.weight']);
    expect(Object.keys(details.reconstructionError)).toEqual(['fc1.weight', 'fc2.weight']);
    expect(details.forwardOnlyExamples).toBe(64 * 2 + 32);
  });

  it('reaches 2:4 on a conv model through its im2col view, the pattern exact, ineligible layers dense', async () => {
    const model = createToyConvModel({ seed: 3 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0 });
    const target: PruningTarget = { kind: 'n-of-m', n: 2, m: 4 };
    const result = await sparsegptMethod.run(testMethodContext(sparsegptMethod, { model, trainer, target, options: { calibrationExamples: 32 } }));
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
    expect(await checkNmPattern(model, weightNames(model), target)).toMatchObject({ violations: 0, denseLayers: ['conv1.weight', 'fc.weight'] });
  });

  it('a prunable tensor the forward never multiplies (like an embedding table) is pruned by |W|: N:M exact, counts exact', async () => {
    for (const target of [{ kind: 'n-of-m', n: 2, m: 4 }, { kind: 'sparsity', fraction: 0.75 }] as PruningTarget[]) {
      const model = createToyModel({ seed: 4 });
      model.params.set('table.weight', tf.variable(tf.tensor(new SeededRng(1).normalArray(8 * 4, 1), [8, 4])));
      model.paramKinds.set('table.weight', 'embedding');
      const prunable = [...weightNames(model), 'table.weight'];
      const context = testMethodContext(sparsegptMethod, { model, trainer: new SimpleBudgetedTrainer({ totalExamples: 0 }), target, prunable, options: { calibrationExamples: 32 } });
      const result = await sparsegptMethod.run(context);
      expect((result.details as { uncalibrated: string[] }).uncalibrated).toEqual(['table.weight']);
      expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, prunable, target));
      if (target.kind === 'n-of-m') expect((await checkNmPattern(model, prunable, target)).violations).toBe(0);
      expect(context.messages.some((m) => m.includes('no activations for table.weight'))).toBe(true);
    }
  });

  it('rejects bad options, naming the method and the field', () => {
    expect(() => sparsegptMethod.parseOptions({ dampening: 0 })).toThrow(/^sparsegpt: option dampening must be > 0/);
    expect(() => sparsegptMethod.parseOptions({ blocksize: 4 })).toThrow(/unknown option "blocksize"/);
  });
});
