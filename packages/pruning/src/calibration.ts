/**
 * Calibration for activation-aware pruning (Wanda, SparseGPT): the inputs each prunable layer sees on a few
 * training examples, gathered through the model's forward tap (`ForwardOptions.tap`), so a method needs no
 * knowledge of the model's code. Everything is in a layer's *reduction view*: the weight as a matrix
 * [in, out] (linear as is; conv HWIO [kh, kw, cin, cout] flattened to [kh·kw·cin, cout]) and its input as rows of
 * length `in` (conv: the im2col patches, in the same (kh, kw, cin) order).
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import type { LayerInput, Model } from '@prunebench/models';
import { disposeBatch } from './batch.js';
import { numberOption } from './options.js';
import type { Batch, BudgetedTrainer } from './types.js';

export const CALIBRATION_OPTIONS = {
  calibrationExamples: numberOption({
    default: 128,
    min: 1,
    integer: true,
    doc: 'Training examples whose activations calibrate the scores (forward only, not charged, recorded); the same examples for every method with the same seed.',
  }),
  calibrationBatchSize: numberOption({ default: 32, min: 1, integer: true, doc: 'Examples per calibration forward pass.' }),
};

/**
 * The calibration set: `examples` training examples drawn with the method generator's `calibration` fork, so every
 * method of a run with the same seed sees the same ones.
 */
export function calibrationBatches(source: Pick<BudgetedTrainer, 'sampleBatches'>, rng: SeededRng, examples: number, batchSize: number): Batch[] {
  const sizes: number[] = [];
  for (let left = examples; left > 0; left -= batchSize) sizes.push(Math.min(batchSize, left));
  const draw = rng.fork('calibration');
  return sizes.map((size, i) => source.sampleBatches(1, size, draw.fork(`batch-${i}`))[0]);
}

export function disposeBatches(batches: readonly Batch[]): void {
  for (const batch of batches) disposeBatch(batch);
}

/**
 * The named layers whose input the model's forward reports, in the order it reaches them. The others (e.g. BERT's
 * embedding tables, which are looked up rather than multiplied) have no activations to calibrate on.
 */
export function reportedLayers(model: Model, batch: Batch, names: readonly string[]): string[] {
  const wanted = new Set(names);
  const seen: string[] = [];
  const tap = ({ weight }: LayerInput) => {
    if (wanted.has(weight) && !seen.includes(weight)) seen.push(weight);
  };
  model.forward(batch.inputs, { training: false, tap }).dispose();
  return seen;
}

/** The rows of a layer's input in its reduction view, [rows, in], and the row mask if any (1 = a real example). */
export function reductionRows(layer: LayerInput, weightShape: readonly number[]): { rows: tf.Tensor2D; mask?: tf.Tensor1D } {
  if (!layer.conv) {
    const rows = layer.input.reshape([-1, layer.input.shape[layer.input.rank - 1]]) as tf.Tensor2D;
    return { rows, mask: layer.rowMask ? (layer.rowMask.reshape([-1]) as tf.Tensor1D) : undefined };
  }
  const [kh, kw, cin] = weightShape;
  const { stride, pad } = layer.conv;
  const x = layer.input as tf.Tensor4D;
  if (x.shape[3] !== cin) throw new Error(`layer ${layer.weight}: input has ${x.shape[3]} channels, the weight ${cin}`);
  const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  const [b, h, w] = padded.shape;
  const oh = Math.floor((h - kh) / stride) + 1;
  const ow = Math.floor((w - kw) / stride) + 1;
  const patches: tf.Tensor[] = [];
  for (let dy = 0; dy < kh; dy++) {
    for (let dx = 0; dx < kw; dx++) {
      patches.push(tf.stridedSlice(padded, [0, dy, dx, 0], [b, dy + (oh - 1) * stride + 1, dx + (ow - 1) * stride + 1, cin], [1, stride, stride, 1]));
    }
  }
  // [b, oh, ow, kh·kw, cin] → rows of (kh, kw, cin), the HWIO flattening.
  return { rows: tf.stack(patches, 3).reshape([b * oh * ow, kh * kw * cin]) as tf.Tensor2D };
}

/** What to accumulate per layer over the calibration set: column squared norms (Wanda) or XᵀX (SparseGPT). */
export type LayerStatistic = 'squared-norms' | 'gram';

export interface LayerCalibration {
  /** Σ over rows of x² per input feature, [in] (always computed). */
  squaredNorms: Float64Array;
  /** Σ over rows of x xᵀ, [in × in] row-major ('gram' only). */
  gram?: Float64Array;
  /** Rows counted (masked rows excluded). */
  rows: number;
}

/**
 * Runs the model over the calibration batches (inference mode) and accumulates the statistic of every named layer's
 * input. A named layer the forward never reports is an error naming it.
 */
export async function calibrateLayers(
  model: Model,
  batches: readonly Batch[],
  names: readonly string[],
  statistic: LayerStatistic,
): Promise<Map<string, LayerCalibration>> {
  const wanted = new Set(names);
  const sums = new Map<string, { norms: tf.Tensor; gram?: tf.Tensor; rows: tf.Tensor }>();
  const add = (name: string, key: 'norms' | 'gram' | 'rows', value: tf.Tensor) => {
    const entry = sums.get(name) ?? ({} as { norms: tf.Tensor; gram?: tf.Tensor; rows: tf.Tensor });
    const previous = entry[key];
    entry[key] = tf.keep(previous ? tf.add(previous, value) : value);
    previous?.dispose();
    sums.set(name, entry);
  };
  for (const batch of batches) {
    const logits = model.forward(batch.inputs, {
      training: false,
      tap: (layer) => {
        if (!wanted.has(layer.weight)) return;
        const weight = model.params.get(layer.weight);
        if (!weight) throw new Error(`calibration: the forward reported "${layer.weight}", which is not a parameter`);
        // Its own scope, so a layer's im2col rows are freed before the forward reaches the next layer.
        const [norms, rowCount, gram] = tf.tidy(() => {
          const { rows, mask } = reductionRows(layer, weight.shape);
          const masked = mask ? tf.mul(rows, mask.reshape([-1, 1])) : rows;
          return [
            tf.sum(tf.square(masked), 0),
            mask ? tf.sum(mask) : tf.scalar(rows.shape[0]),
            ...(statistic === 'gram' ? [tf.matMul(masked, masked, true, false)] : []),
          ];
        });
        add(layer.weight, 'norms', norms);
        add(layer.weight, 'rows', rowCount);
        if (gram) add(layer.weight, 'gram', gram);
      },
    });
    logits.dispose();
  }
  const out = new Map<string, LayerCalibration>();
  try {
    for (const name of names) {
      const entry = sums.get(name);
      if (!entry) throw new Error(`calibration: the model's forward does not report the input of "${name}" (its family has no calibration tap for it)`);
      out.set(name, {
        squaredNorms: Float64Array.from(await entry.norms.data()),
        gram: entry.gram ? Float64Array.from(await entry.gram.data()) : undefined,
        rows: (await entry.rows.data())[0],
      });
    }
  } finally {
    for (const entry of sums.values()) tf.dispose([entry.norms, entry.rows, ...(entry.gram ? [entry.gram] : [])]);
  }
  return out;
}

/** The weight as a row-major [in, out] matrix in float64 (the reduction view). */
export async function reductionMatrix(weight: tf.Tensor): Promise<{ values: Float64Array; rows: number; cols: number }> {
  const cols = weight.shape[weight.rank - 1];
  return { values: Float64Array.from(await weight.data()), rows: weight.size / cols, cols };
}

/**
 * ‖(W − Ŵ)ᵀX‖²_F / ‖WᵀX‖²_F from the Gram matrix G = XᵀX: the relative error of a layer's outputs on the
 * calibration inputs when W (reduction view [in, out]) is replaced by Ŵ. 0 when nothing changed.
 */
export function relativeReconstructionError(dense: Float64Array, pruned: Float64Array, gram: Float64Array, inputs: number, outputs: number): number {
  const quadratic = (m: (i: number, o: number) => number) => {
    let total = 0;
    for (let o = 0; o < outputs; o++) {
      for (let i = 0; i < inputs; i++) {
        const a = m(i, o);
        if (a === 0) continue;
        let s = 0;
        for (let j = 0; j < inputs; j++) s += gram[i * inputs + j] * m(j, o);
        total += a * s;
      }
    }
    return total;
  };
  const denominator = quadratic((i, o) => dense[i * outputs + o]);
  const numerator = quadratic((i, o) => dense[i * outputs + o] - pruned[i * outputs + o]);
  return denominator > 0 ? numerator / denominator : 0;
}

/**
 * Each layer's relative reconstruction error ‖(W − Ŵ)ᵀX̂‖² / ‖WᵀX̂‖²: W from `dense` (the starting weights by name),
 * Ŵ and the inputs X̂ from `pruned` (the layer's inputs in the pruned model, so upstream pruning counts, as in
 * SparseGPT's objective). The shapes must agree (unstructured pruning).
 */
export async function reconstructionErrors(
  dense: ReadonlyMap<string, tf.Tensor>,
  pruned: Model,
  batches: readonly Batch[],
  names: readonly string[],
): Promise<Map<string, number>> {
  const grams = await calibrateLayers(pruned, batches, names, 'gram');
  const out = new Map<string, number>();
  for (const name of names) {
    const w = dense.get(name);
    const p = pruned.params.get(name);
    if (!w || !p || w.size !== p.size) throw new Error(`reconstruction error: "${name}" differs in shape between the dense and the pruned model`);
    const outputs = w.shape[w.rank - 1];
    const inputs = w.size / outputs;
    out.set(name, relativeReconstructionError(Float64Array.from(await w.data()), Float64Array.from(await p.data()), grams.get(name)!.gram!, inputs, outputs));
  }
  return out;
}
