import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import type { Model } from '@prunebench/models';

/**
 * Flatness of a trained (pruned) model: how much its loss rises when the weights are moved by a fixed relative
 * amount. Used to check SAFE's claim (sparse AND flat minima) against every other method's final model.
 *
 * Perturbation, per parameter tensor l (layer-normalised, as in Keskar et al. 2017 / Li et al. 2018 at the
 * granularity of a whole tensor): δ_l = radius · ‖w_l‖ · d_l / ‖d_l‖, so ‖δ_l‖ = radius · ‖w_l‖ exactly. With
 * masks, d_l is zero wherever the mask is 0: pruned weights stay exactly 0 and only surviving weights move
 * (‖w_l‖ is then the norm of the surviving weights). A tensor whose surviving weights are all 0 is not moved.
 *  - random: d_l ~ N(0, I), drawn from `rng` in `params` order, `samples` independent directions; reported as
 *    the mean (and max) loss over the samples.
 *  - worst case (only when `gradientOf` is given): one step of gradient ascent, d_l = ∇_l loss, the
 *    first-order worst case within the same per-tensor radius (SAM's ascent step, per tensor).
 * Every weight is restored exactly (bit for bit) afterwards, also when `lossOn` throws.
 */
export interface FlatnessOptions {
  /** Loss of the model on a fixed evaluation set (the same examples every call). */
  lossOn: (model: Model) => number | Promise<number>;
  model: Model;
  /** Parameters to perturb (e.g. the prunable weights, or every parameter). */
  params: readonly string[];
  /** Relative radius: ‖δ_l‖ = radius · ‖w_l‖ for every perturbed tensor. */
  radius: number;
  /** Random directions to average over. */
  samples: number;
  rng: SeededRng;
  /** 0/1 masks by parameter name: entries with mask 0 are not perturbed (pruned weights stay 0). */
  masks?: ReadonlyMap<string, tf.Tensor>;
  /** Relative radius of the gradient-direction step (default: `radius`); the ascent direction is far more harmful than a random one. */
  gradientRadius?: number;
  /** Gradients of the same loss by parameter name, for the worst-case (gradient-ascent) variant; the caller's tensors are disposed here. */
  gradientOf?: (model: Model) => Map<string, tf.Tensor> | Promise<Map<string, tf.Tensor>>;
}

export interface FlatnessResult {
  radius: number;
  baseLoss: number;
  /** Mean loss over the random perturbations. */
  meanLoss: number;
  maxLoss: number;
  /** meanLoss − baseLoss. */
  lossIncrease: number;
  samples: number;
  /** The loss at every random perturbation, in draw order. */
  losses: number[];
  /** One-step gradient-ascent perturbation of radius `gradientRadius` (only with `gradientOf`). */
  worstCase?: { loss: number; lossIncrease: number; radius: number };
}

export async function measureFlatness(options: FlatnessOptions): Promise<FlatnessResult> {
  const { model, params, radius, samples, rng, masks } = options;
  if (typeof options.lossOn !== 'function') throw new Error('measureFlatness: lossOn must be a function (model) => loss');
  if (typeof radius !== 'number' || !Number.isFinite(radius) || radius < 0) {
    throw new Error(`measureFlatness: radius must be a finite number >= 0, got ${JSON.stringify(radius)}`);
  }
  const gradientRadius = options.gradientRadius ?? radius;
  if (typeof gradientRadius !== 'number' || !Number.isFinite(gradientRadius) || gradientRadius < 0) {
    throw new Error(`measureFlatness: gradientRadius must be a finite number >= 0, got ${JSON.stringify(options.gradientRadius)}`);
  }
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`measureFlatness: samples must be an integer >= 1, got ${JSON.stringify(samples)}`);
  if (!Array.isArray(params) || params.length === 0) throw new Error('measureFlatness: params must name at least one parameter');
  if (new Set(params).size !== params.length) throw new Error('measureFlatness: params lists a parameter twice');
  const variables = params.map((name) => {
    const v = model.params.get(name);
    if (!v) throw new Error(`measureFlatness: params names "${name}", which the model does not have`);
    const mask = masks?.get(name);
    if (mask && (mask.shape.length !== v.shape.length || mask.shape.some((d, i) => d !== v.shape[i]))) {
      throw new Error(`measureFlatness: masks["${name}"] has shape [${mask.shape}], the parameter has [${v.shape}]`);
    }
    return v;
  });

  const originals = variables.map((v) => v.clone() as tf.Tensor);
  /** `tensors[i]` with parameter i's pruned entries zeroed. */
  const masked = (tensors: readonly tf.Tensor[], i: number): tf.Tensor => {
    const mask = masks?.get(params[i]);
    return mask ? tf.where(tf.notEqual(mask, 0), tensors[i], tf.zerosLike(tensors[i])) : tensors[i];
  };
  // ‖w_l‖ over the surviving weights.
  const norms = await maskedNorms((i) => masked(originals, i), variables.length);
  const restore = () => variables.forEach((v, i) => v.assign(originals[i]));

  /** Move every tensor by r·‖w_l‖ along its direction (masked), evaluate, restore. */
  const lossAlong = async (directions: tf.Tensor[], r: number): Promise<number> => {
    try {
      const dNorms = await maskedNorms((i) => masked(directions, i), variables.length);
      variables.forEach((v, i) => {
        tf.tidy(() => {
          const mask = masks?.get(params[i]);
          const d = masked(directions, i);
          const dNorm = dNorms[i];
          if (dNorm === 0 || norms[i] === 0 || r === 0) return;
          const moved = tf.add(originals[i], tf.mul(d, (r * norms[i]) / dNorm));
          // Pruned entries keep their stored value bit for bit (no −0 → +0 from adding a zero).
          v.assign(mask ? tf.where(tf.notEqual(mask, 0), moved, originals[i]) : moved);
        });
      });
      return await options.lossOn(model);
    } finally {
      restore();
    }
  };

  try {
    const baseLoss = await options.lossOn(model);
    const losses: number[] = [];
    for (let s = 0; s < samples; s++) {
      const directions = variables.map((v) => tf.tensor(rng.normalArray(v.size), v.shape, 'float32'));
      try {
        losses.push(await lossAlong(directions, radius));
      } finally {
        directions.forEach((d) => d.dispose());
      }
    }
    const meanLoss = losses.reduce((a, b) => a + b, 0) / samples;
    const result: FlatnessResult = {
      radius,
      baseLoss,
      meanLoss,
      maxLoss: Math.max(...losses),
      lossIncrease: meanLoss - baseLoss,
      samples,
      losses,
    };
    if (options.gradientOf) {
      const grads = await options.gradientOf(model);
      try {
        const directions = params.map((name) => {
          const g = grads.get(name);
          if (!g) throw new Error(`measureFlatness: gradientOf returned no gradient for "${name}"`);
          return g;
        });
        const loss = await lossAlong(directions, gradientRadius);
        result.worstCase = { loss, lossIncrease: loss - baseLoss, radius: gradientRadius };
      } finally {
        for (const g of grads.values()) g.dispose();
      }
    }
    return result;
  } finally {
    restore();
    originals.forEach((t) => t.dispose());
  }
}

/** The L2 norm of each of `count` tensors, read back together (one host read for all of them). */
async function maskedNorms(tensorAt: (i: number) => tf.Tensor, count: number): Promise<number[]> {
  const stacked = tf.tidy(() => tf.stack(Array.from({ length: count }, (_, i) => tf.norm(tensorAt(i)))));
  try {
    return Array.from(await stacked.data());
  } finally {
    stacked.dispose();
  }
}
