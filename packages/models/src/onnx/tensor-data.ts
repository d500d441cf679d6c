import type * as tf from '@tensorflow/tfjs';
import type { Model } from '../types.js';

/** A parameter's values on the host, internal (tfjs) layout. */
export interface ParamValues {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Reads every parameter and buffer to the host (asynchronously: GPU backends cannot read synchronously),
 * multiplying in its mask when one is given. `context` names the caller in errors.
 */
export async function readModelValues(model: Model, masks: Map<string, tf.Tensor>, context: string): Promise<Map<string, ParamValues>> {
  for (const name of masks.keys()) {
    if (!model.params.has(name) && !model.buffers.has(name)) throw new Error(`${context}: mask names ${name}, which the model does not have`);
  }
  const out = new Map<string, ParamValues>();
  for (const [name, variable] of [...model.params, ...model.buffers]) {
    if (variable.dtype !== 'float32') throw new Error(`${context}: ${name} has dtype ${variable.dtype}, expected float32`);
    const data = Float32Array.from((await variable.data()) as Float32Array);
    const mask = masks.get(name);
    if (mask) {
      if (mask.shape.join('x') !== variable.shape.join('x')) {
        throw new Error(`${context}: mask for ${name} has shape [${mask.shape}], parameter has [${variable.shape}]`);
      }
      const m = await mask.data();
      for (let i = 0; i < data.length; i++) data[i] *= m[i];
    }
    out.set(name, { name, shape: [...variable.shape], data });
  }
  return out;
}

/** One parameter's (or buffer's) host values from `readModelValues`; `context` names the caller in errors. */
export function readParamValues(values: ReadonlyMap<string, ParamValues>, name: string, context: string): ParamValues {
  const found = values.get(name);
  if (!found) throw new Error(`${context}: model has no parameter or buffer named ${name}`);
  return found;
}

export function expectShape(t: ParamValues, shape: number[], context: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${context}: ${t.name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

/** Conv kernel internal HWIO [kh, kw, in, out] → ONNX/PyTorch OIHW [out, in, kh, kw]. */
export function hwioToOihw(data: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [kh, kw, cin, cout] = shape;
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh; h++) {
    for (let w = 0; w < kw; w++) {
      for (let i = 0; i < cin; i++) {
        const src = ((h * kw + w) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + h) * kw + w] = data[src + o];
      }
    }
  }
  return { data: out, shape: [cout, cin, kh, kw] };
}
