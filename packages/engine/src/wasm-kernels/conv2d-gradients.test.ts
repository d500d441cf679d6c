import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface ConvCase { batch: number; height: number; width: number; inChannels: number; outChannels: number; kernel: number; strides: [number, number]; pad: Pad }

/** Every combination the task names: batch sizes, channel counts, kernels 1/3, strides 1/2, same/valid, odd sizes. */
function convCases(): ConvCase[] {
  const rng = new SeededRng(2024);
  const cases: ConvCase[] = [];
  for (const kernel of [1, 3]) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        cases.push({
          batch: 1 + rng.int(3), height: 5 + 2 * rng.int(3), width: 5 + 2 * rng.int(3),
          inChannels: 1 + rng.int(5), outChannels: 1 + rng.int(6), kernel, strides: [stride, stride], pad,
        });
      }
    }
  }
  // Uneven strides, even sizes and explicit (asymmetric, larger-than-kernel) pads.
  cases.push({ batch: 2, height: 8, width: 6, inChannels: 3, outChannels: 4, kernel: 3, strides: [2, 1], pad: 'same' });
  cases.push({ batch: 2, height: 7, width: 9, inChannels: 2, outChannels: 3, kernel: 3, strides: [1, 1], pad: [[0, 0], [2, 0], [1, 3], [0, 0]] });
  cases.push({ batch: 3, height: 10, width: 10, inChannels: 4, outChannels: 2, kernel: 3, strides: [2, 2], pad: [[0, 0], [1, 1], [0, 2], [0, 0]] });
  return cases;
}

const describeCase = (c: ConvCase) =>
  `${c.batch}x${c.height}x${c.width}x${c.inChannels} k${c.kernel} ->${c.outChannels} strides ${c.strides} pad ${JSON.stringify(c.pad)}`;

describe('wasm conv2d gradient kernels match the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  for (const c of convCases()) {
    it(`Conv2DBackpropFilter and Conv2DBackpropInput: ${describeCase(c)}`, async () => {
      const rng = new SeededRng(c.batch * 1000 + c.height * 10 + c.kernel);
      const xShape = [c.batch, c.height, c.width, c.inChannels] as [number, number, number, number];
      const filterShape = [c.kernel, c.kernel, c.inChannels, c.outChannels] as [number, number, number, number];
      const x = normalValues(xShape, rng);
      const filter = normalValues(filterShape, rng);
      const outShape = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.strides, 1, c.pad).outShape;
      const dy = normalValues(outShape, rng);
      const compute = () => {
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
        const filterGrad = tf.engine().runKernel('Conv2DBackpropFilter',
          { x: tf.tensor(x.values, x.shape), dy: tf.tensor(dy.values, dy.shape) }, { ...attrs, filterShape } as any) as tf.Tensor;
        const inputGrad = tf.engine().runKernel('Conv2DBackpropInput',
          { dy: tf.tensor(dy.values, dy.shape), filter: tf.tensor(filter.values, filter.shape) }, { ...attrs, inputShape: xShape } as any) as tf.Tensor;
        expect(filterGrad.shape).toEqual(filterShape);
        expect(inputGrad.shape).toEqual(xShape);
        return [filterGrad, inputGrad];
      };
      const [cpuFilter, cpuInput] = await computeOn('cpu', compute);
      const [wasmFilter, wasmInput] = await computeOn('wasm', compute);
      expect(relativeError(wasmFilter!, cpuFilter!)).toBeLessThan(1e-4);
      expect(relativeError(wasmInput!, cpuInput!)).toBeLessThan(1e-4);
    });
  }

  it('tf.grad of a conv2d loss (two layers, stride 2, relu) equals the cpu gradient', async () => {
    const rng = new SeededRng(9);
    const x = normalValues([3, 9, 9, 3], rng);
    const w1 = normalValues([3, 3, 3, 8], rng);
    const w2 = normalValues([3, 3, 8, 5], rng);
    const compute = () => {
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const h = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'));
        return tf.conv2d(h, c as tf.Tensor4D, 1, 'valid').square().sum();
      };
      return tf.grads(loss)([tf.tensor(x.values, x.shape), tf.tensor(w1.values, w1.shape), tf.tensor(w2.values, w2.shape)]);
    };
    const cpu = await computeOn('cpu', compute);
    const wasm = await computeOn('wasm', compute);
    expect(cpu).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(relativeError(wasm[i]!, cpu[i]!)).toBeLessThan(1e-4);
  });

  it('rejects NCHW with an error naming the kernel and dataFormat', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 4, 4, 2]), dy = tf.zeros([1, 4, 4, 3]);
    expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] } as any)).toThrow(/Conv2DBackpropFilter.*dataFormat 'NCHW'/);
    tf.dispose([x, dy]);
  });

  it('leaks no tensors on the wasm heap', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 7, 7, 3]), w = tf.randomNormal([3, 3, 3, 4]);
    const before = tf.backend().numDataIds();
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').sum())([x, w]);
    tf.dispose(grads);
    expect(tf.backend().numDataIds()).toBe(before);
    tf.dispose([x, w]);
  });
});
