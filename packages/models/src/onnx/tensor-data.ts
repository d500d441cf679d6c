import type * as tf from '@tensorflow/tfjs';
import type { Model } from '../types.js';

/** A parameter's values on the host, internal (tfjs) layout. */
export interface ParamValues {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Reads a parameter (or buffer) to the host, multiplying in its mask when one is given.
 * `context` names the caller in errors (e.g. `exportOnnx(resnet-cifar)`).
 */
export function readParamValues(model: Model, name: string, masks: Map<string, tf.Tensor>, context: string): ParamValues {
  const variable = model.params.get(name) ?? model.buffers.get(name);
  if (!variable) throw new Error(`${context}: model has no parameter or buffer named ${name}`);
  if (variable.dtype !== 'float32') throw new Error(`${context}: ${name} has dtype ${variable.dtype}, expected float32`);
  const data = Float32Array.from(variable.dataSync() as Float32Array);
  const mask = masks.get(name);
  if (mask) {
    if (mask.shape.join('x') !== variable.shape.join('x')) {
      throw new Error(`${context}: mask for ${name} has shape [${mask.shape}], parameter has [${variable.shape}]`);
    }
    const m = mask.dataSync();
    for (let i = 0; i < data.length; i++) data[i] *= m[i];
  }
  return { name, shape: [...variable.shape], data };
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
