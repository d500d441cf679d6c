import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@prunebench/engine';
import { countDispatches, medianOf, startDispatchCount, timeIssue, tinyOpChainUs } from './dispatch-counter.js';

describe('dispatch counter (cpu backend)', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
  });

  it('counts exactly N kernels for a chain of N ops, and no GPU dispatches off webgpu', async () => {
    const x = tf.fill([4, 4], 1);
    for (const n of [1, 7, 50]) {
      const { counts } = await countDispatches(async () => {
        const y = tf.tidy(() => {
          let z: tf.Tensor = x;
          for (let i = 0; i < n; i++) z = tf.add(z, x);
          return z;
        });
        await y.data();
        y.dispose();
      });
      expect(counts.kernels).toBe(n);
      expect(counts.byKernel).toEqual({ Add: n });
      expect(counts.nestedKernels).toBe(0);
      expect(counts.gpuDispatches).toBeUndefined();
    }
    x.dispose();
  });

  it("agrees with tf.profile's kernel list on a gradient step, leaving out custom-gradient scopes", async () => {
    const w = tf.variable(tf.randomNormal([3, 2], 0, 1, 'float32', 1));
    const x = tf.randomNormal([5, 3], 0, 1, 'float32', 2);
    const square = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
      save([a]);
      return { value: tf.mul(a, a), gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, tf.mul(s!, 2)) };
    }) as never) as (a: tf.Tensor) => tf.Tensor;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(square(tf.relu(tf.matMul(x, w)))) as tf.Scalar, [w]);
      w.assign(tf.sub(w, tf.mul(grads[w.name]!, 0.1)));
      tf.dispose([value, grads[w.name]!]);
    };
    const profile = await tf.profile(step);
    const { counts } = await countDispatches(step);
    const registered = profile.kernels.filter((k) => tf.getKernel(k.name, 'cpu') !== undefined);
    expect(registered.length).toBeLessThan(profile.kernels.length); // the customGrad scope is in the profile
    expect(counts.kernels).toBe(registered.length);
    expect(counts.byKernel.Multiply).toBeGreaterThanOrEqual(3);
    // Nested: the Identity copies the tape saves for the backward pass, run inside the kernel whose tensors they keep.
    expect(counts.nestedKernels).toBeGreaterThan(0);
    expect(counts.nestedKernels).toBeLessThanOrEqual(counts.byKernel.Identity ?? 0);
    tf.dispose([w, x]);
  });

  it('removes its wrappers when stopped, and counts nothing afterwards', async () => {
    const engine = tf.engine() as unknown as Record<string, unknown>;
    const before = engine.runKernelFunc;
    const counter = startDispatchCount();
    expect(engine.runKernelFunc).not.toBe(before);
    tf.dispose(tf.add(tf.scalar(1), tf.scalar(2)));
    expect(counter.stop().kernels).toBe(1);
    expect(engine.runKernelFunc).toBe(before);
    expect(Object.prototype.hasOwnProperty.call(engine, 'runKernelFunc')).toBe(false);
    tf.dispose(tf.add(tf.scalar(1), tf.scalar(2)));
    expect(counter.stop().kernels).toBe(1);
  });

  it('times the issue of a step apart from its completion', async () => {
    const t = await timeIssue(() => new Promise((resolve) => setTimeout(resolve, 30)), 3, 0);
    expect(t.issueMs).toHaveLength(3);
    expect(t.medianIssueMs).toBeLessThan(20);
    expect(t.medianDoneMs).toBeGreaterThanOrEqual(25);
    expect(medianOf([3, 1, 2, 10])).toBe(2.5);
  });

  it('measures a per-op host cost on a chain of tiny adds', async () => {
    const chain = await tinyOpChainUs(200, 3);
    expect(chain.kernels).toBe(200);
    expect(chain.usPerOp).toBeGreaterThan(0);
    expect(chain.usPerOp).toBeLessThan(10_000);
  });
});
