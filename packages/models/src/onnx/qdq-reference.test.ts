import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { OnnxGraphBuilder } from './graph-builder.js';
import { decodeModel } from './onnx-decode.js';
import { OnnxDataType, encodeModel, floatTensor, irVersionForOpset } from './onnx-proto.js';
import { ortOptimizedOperators } from './qdq.js';
import { fmaF32, runQdqReference } from './qdq-reference.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fmaF32', () => {
  it('rounds a · b + c once, where the float32 product then sum rounds twice', () => {
    const a = Math.fround(1 + 2 ** -12);
    // exact: 2^-11 + 2^-24 (a float32); rounding a · a to float32 first loses the 2^-24
    expect(fmaF32(a, a, -1)).toBe(2 ** -11 + 2 ** -24);
    expect(Math.fround(Math.fround(a * a) - 1)).toBe(2 ** -11);
    expect(fmaF32(3, 0.5, 0.25)).toBe(1.75);
    expect(fmaF32(-2, 0.75, 0)).toBe(-1.5);
  });
});

describe('QLinearAdd against ONNX Runtime', () => {
  /** a, b [N, 64] → Q/DQ each → Add → Q/DQ → output: ORT fuses the Add into QLinearAdd. */
  function addGraph(zeroPoints: [number, number, number], scales: [number, number, number]): Uint8Array {
    const g = new OnnxGraphBuilder('add');
    const param = (name: string, i: number) => {
      g.addInitializer(floatTensor(`${name}_scale`, [], Float32Array.of(scales[i])));
      g.addInitializer({ name: `${name}_zp`, dims: [], dataType: OnnxDataType.UINT8, rawData: Uint8Array.of(zeroPoints[i]) });
      return [`${name}_scale`, `${name}_zp`];
    };
    const dq = (input: string, name: string, i: number) => {
      const p = param(name, i);
      return g.node('DequantizeLinear', `${name}_dq`, [g.node('QuantizeLinear', `${name}_q`, [input, ...p]), ...p]);
    };
    const sum = g.node('Add', 'add', [dq('a', 'a', 0), dq('b', 'b', 1)]);
    const p = param('c', 2);
    g.node('DequantizeLinear', 'c_dq', [g.node('QuantizeLinear', 'c_q', [sum, ...p]), ...p], [], 'output');
    const io = (name: string) => ({ name, elemType: OnnxDataType.FLOAT, shape: ['N', 64] });
    return encodeModel({ irVersion: irVersionForOpset(17), opsetVersion: 17, producerName: 'test', graph: g.build([io('a'), io('b')], [io('output')]) });
  }

  for (const [label, zeroPoints] of [['zero points 0 and 128', [0, 128, 37]], ['both zero points nonzero', [90, 128, 37]]] as const) {
    it(`the reference equals ORT's output at every element (${label})`, async () => {
      const bytes = addGraph([...zeroPoints], [0.013, 0.021, 0.029]);
      expect((await ortOptimizedOperators(bytes)).QLinearAdd).toBe(1);
      const rng = new SeededRng(3);
      const n = 256;
      const a = rng.normalArray(n * 64, 1.2);
      const b = rng.normalArray(n * 64, 1.5);
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
      const got = (await session.run({ a: new ort.Tensor('float32', a, [n, 64]), b: new ort.Tensor('float32', b, [n, 64]) })).output.data as Float32Array;
      await session.release();
      const out = runQdqReference(decodeModel(bytes), { a: tf.tensor(a, [n, 64]), b: tf.tensor(b, [n, 64]) });
      const ref = out.output.dataSync() as Float32Array;
      out.output.dispose();
      let equal = 0;
      for (let i = 0; i < ref.length; i++) if (ref[i] === got[i]) equal++;
      expect(equal).toBe(ref.length);
    });
  }
});
