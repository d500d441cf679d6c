import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { conv2dBackpropInputWasmConfig } from './conv2d-backprop-input.js';
import {
  FASTER_WASM_KERNELS, MISSING_WASM_KERNELS, registerWasmTrainingKernels, unregisterWasmTrainingKernels, wasmTrainingKernelNames,
} from './register.js';

describe('registerWasmTrainingKernels', () => {
  it('registers the missing kernels before the backend starts, and the built-ins it replaces still work after start', async () => {
    const builtInInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
    expect(builtInInput).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    const names = registerWasmTrainingKernels();
    expect(names).toEqual([
      'BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'PrunebenchBatchNormTraining', 'PrunebenchBatchNormTrainingGrad',
      'Slice', 'Sum', 'Transpose', 'UnsortedSegmentSum', '_FusedMatMul',
    ]);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc).toBe(conv2dBackpropInputWasmConfig.kernelFunc);
    await tf.setBackend('wasm');
    // Restoring the built-in after the backend started: it was set up through our registration.
    unregisterWasmTrainingKernels();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(builtInInput);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.ones([1, 2, 2, 1]), filter: tf.ones([1, 1, 1, 1]) },
      { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [1, 2, 2, 1] }) as tf.Tensor;
    expect(Array.from(dx.dataSync())).toEqual([1, 1, 1, 1]);
  });

  it('is idempotent and can register only the missing kernels', async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels({ fasterKernels: false });
    expect(wasmTrainingKernelNames()).toEqual(MISSING_WASM_KERNELS.map((k) => k.kernelName).sort());
    const first = registerWasmTrainingKernels();
    const second = registerWasmTrainingKernels();
    expect(second).toEqual(first);
    expect(first).toHaveLength(MISSING_WASM_KERNELS.length + FASTER_WASM_KERNELS.length);
  });

  it('registers only the kernels named in `only`, and rejects unknown names', async () => {
    await tf.setBackend('wasm');
    unregisterWasmTrainingKernels();
    expect(registerWasmTrainingKernels({ only: ['Conv2DBackpropFilter', 'Slice'] })).toEqual(['Conv2DBackpropFilter', 'Slice']);
    unregisterWasmTrainingKernels();
    expect(() => registerWasmTrainingKernels({ only: ['Conv3D'] })).toThrow(/unknown kernels Conv3D/);
    registerWasmTrainingKernels();
  });

  it('rejects a non-boolean fasterKernels option by name', () => {
    expect(() => registerWasmTrainingKernels({ fasterKernels: 'yes' as unknown as boolean })).toThrow(/fasterKernels/);
  });
});
