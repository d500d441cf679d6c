import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { exportOnnx, saveOnnx } from './index.js';
import { OnnxRunner, checkOnnxProvider, nhwcToNchw } from './runner.js';
import { hwioToOihw } from './tensor-data.js';
import type { ArchSpec, Model } from '../types.js';
import type { ResNetCifarArch } from '../resnet-cifar.js';
import { maxAbsDiff, onnxLogits } from './testing/compare.js';
import { randomResNetCifar } from '../testing/random-resnet-cifar.js';

const TINY: ResNetCifarArch = {
  family: 'resnet-cifar',
  depth: 8,
  numClasses: 10,
  stem: 4,
  stages: [
    { blocks: [{ mid: 4, out: 4, stride: 1 }] },
    { blocks: [{ mid: 8, out: 8, stride: 2 }] },
    { blocks: [{ mid: 16, out: 16, stride: 2 }] },
  ],
};
/** Structurally pruned widths: narrow mids, odd channel growth (pad 1 before, 2 after), a stride-1 widening. */
const NARROW: ResNetCifarArch = {
  family: 'resnet-cifar',
  depth: 10,
  numClasses: 7,
  stem: 3,
  stages: [
    { blocks: [{ mid: 2, out: 3, stride: 1 }, { mid: 3, out: 5, stride: 1 }] },
    { blocks: [{ mid: 5, out: 8, stride: 2 }] },
    { blocks: [{ mid: 1, out: 9, stride: 2 }] },
  ],
};

function randomImages(n: number, seed: number): tf.Tensor4D {
  const rng = new SeededRng(seed);
  return tf.tensor4d(Array.from({ length: n * 32 * 32 * 3 }, () => rng.normal()), [n, 32, 32, 3]);
}

// Models are built while describe blocks are collected, so the backend is set up front.
await tf.setBackend('wasm');
await tf.ready();

describe('exportOnnx(resnet-cifar) runs in onnxruntime like the tfjs forward', () => {
  const model = randomResNetCifar(TINY, 7);
  const narrow = randomResNetCifar(NARROW, 11);
  afterAll(() => {
    model.dispose();
    narrow.dispose();
  });

  for (const foldBatchNorm of [true, false]) {
    for (const n of [1, 5]) {
      it(`matches at batch ${n}, foldBatchNorm ${foldBatchNorm} (dynamic batch)`, async () => {
        const images = randomImages(n, 100 + n);
        const expected = model.forward(images, { training: false }).dataSync() as Float32Array;
        const actual = await onnxLogits(await exportOnnx(model, { foldBatchNorm }), images);
        expect(actual.length).toBe(n * 10);
        expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-4);
        images.dispose();
      });
    }
  }

  it('folded and unfolded exports agree, and folding removes the BatchNormalization nodes', async () => {
    const images = randomImages(3, 5);
    const foldedBytes = await exportOnnx(model);
    const unfoldedBytes = await exportOnnx(model, { foldBatchNorm: false });
    const countOp = (bytes: Uint8Array, op: string) => Buffer.from(bytes).toString('latin1').split(op).length - 1;
    expect(countOp(foldedBytes, 'BatchNormalization')).toBe(0);
    expect(countOp(unfoldedBytes, 'BatchNormalization')).toBe(7); // stem + 2 per block
    const folded = await onnxLogits(foldedBytes, images);
    const unfolded = await onnxLogits(unfoldedBytes, images);
    expect(maxAbsDiff(folded, unfolded)).toBeLessThan(1e-4);
    images.dispose();
  });

  it('exports structurally narrower widths physically smaller, still matching', async () => {
    const images = randomImages(2, 9);
    const bytes = await exportOnnx(narrow, { foldBatchNorm: false });
    expect(bytes.length).toBeLessThan((await exportOnnx(model, { foldBatchNorm: false })).length);
    const expected = narrow.forward(images, { training: false }).dataSync() as Float32Array;
    expect(maxAbsDiff(await onnxLogits(bytes, images), expected)).toBeLessThan(1e-4);
    images.dispose();
  });

  it('exports masked weights dense with zeros, equal to the masked tfjs model', async () => {
    const images = randomImages(2, 13);
    const masks = new Map<string, tf.Tensor>();
    const rng = new SeededRng(3);
    for (const [name, kind] of model.paramKinds) {
      if (kind !== 'conv2d' && kind !== 'linear') continue;
      const v = model.params.get(name)!;
      masks.set(name, tf.tensor(Array.from({ length: v.size }, () => (rng.next() < 0.5 ? 1 : 0)), v.shape));
    }
    const bytes = await exportOnnx(model, { masks });
    const original = new Map([...masks.keys()].map((k) => [k, model.params.get(k)!.clone()]));
    for (const [k, m] of masks) model.params.get(k)!.assign(tf.mul(original.get(k)!, m));
    const expected = model.forward(images, { training: false }).dataSync() as Float32Array;
    for (const [k, v] of original) model.params.get(k)!.assign(v);
    expect(maxAbsDiff(await onnxLogits(bytes, images), expected)).toBeLessThan(1e-4);
    expect(bytes.length).toBe((await exportOnnx(model)).length); // dense: same size as unmasked
    [...masks.values(), ...original.values(), images].forEach((t) => t.dispose());
  });

  it('fixes the batch dimension when asked', async () => {
    const bytes = await exportOnnx(model, { batch: 2 });
    const runner = await OnnxRunner.create(bytes);
    await expect(runner.run(new Float32Array(3 * 3 * 32 * 32), [3, 3, 32, 32])).rejects.toThrow();
    expect((await runner.run(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32])).length).toBe(20);
    await runner.dispose();
  });

  it('saves atomically, leaving no temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-save-'));
    try {
      const bytes = await exportOnnx(model);
      saveOnnx(join(dir, 'sub', 'model.onnx'), bytes);
      expect(new Uint8Array(readFileSync(join(dir, 'sub', 'model.onnx')))).toEqual(bytes);
      expect(readdirSync(join(dir, 'sub'))).toEqual(['model.onnx']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  const model = randomResNetCifar(TINY, 1);
  afterAll(() => model.dispose());
  /** The model seen through a different arch or parameter map (class methods kept). */
  const variant = (over: { arch?: ArchSpec; params?: Map<string, tf.Variable> }): Model => ({
    arch: over.arch ?? model.arch,
    params: over.params ?? model.params,
    buffers: model.buffers,
    paramKinds: model.paramKinds,
    forward: (input, opts) => model.forward(input, opts),
    dispose: () => {},
  });

  it('names an unknown family', async () => {
    await expect(exportOnnx(variant({ arch: { family: 'vgg' } }))).rejects.toThrow(/no ONNX exporter for model family "vgg"/);
  });
  it('names a missing parameter', async () => {
    const params = new Map(model.params);
    params.delete('layer2.0.conv2.weight');
    await expect(exportOnnx(variant({ params }))).rejects.toThrow(/layer2\.0\.conv2\.weight/);
  });
  it('names a width that disagrees with the arch', async () => {
    const arch = { ...TINY, stages: [{ blocks: [{ mid: 5, out: 4, stride: 1 }] }, ...TINY.stages.slice(1)] };
    await expect(exportOnnx(variant({ arch }))).rejects.toThrow(/layer1\.0\.conv1\.weight has shape \[3, 3, 4, 4\], expected \[3, 3, 4, 5\]/);
  });
  it('names a bad arch field and bad options', async () => {
    await expect(exportOnnx(variant({ arch: { ...TINY, stem: 0 } }))).rejects.toThrow(/exportOnnx\(resnet-cifar\): .*stem/);
    await expect(exportOnnx(model, { imageSize: 0 })).rejects.toThrow(/imageSize/);
    await expect(exportOnnx(model, { opset: 5 })).rejects.toThrow(/opset/);
    await expect(exportOnnx(model, { batch: 0 })).rejects.toThrow(/batch/);
  });
  it('rejects an unavailable provider and a wrongly sized input', async () => {
    expect(() => checkOnnxProvider('cuda')).toThrow(/provider cuda is not installed/);
    expect(() => checkOnnxProvider('metal' as 'cpu')).toThrow(/provider must be one of/);
    const runner = await OnnxRunner.create(await exportOnnx(model));
    expect(runner.info).toMatchObject({ provider: 'cpu', threads: 2 });
    expect(runner.info.ortVersion).toMatch(/^\d+\.\d+/);
    await expect(runner.run(new Float32Array(10), [1, 3, 32, 32])).rejects.toThrow(/10 values/);
    await runner.dispose();
  });
});

describe('layout helpers', () => {
  it('converts HWIO kernels to OIHW', () => {
    // [kh=1, kw=2, in=2, out=3]: value encodes (h, w, i, o) as w*100 + i*10 + o
    const hwio = new Float32Array([0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112]);
    const { data, shape } = hwioToOihw(hwio, [1, 2, 2, 3]);
    expect(shape).toEqual([3, 2, 1, 2]);
    expect([...data]).toEqual([0, 100, 10, 110, 1, 101, 11, 111, 2, 102, 12, 112]);
  });
  it('converts NHWC images to NCHW', () => {
    const nhwc = new Float32Array([1, 2, 3, 4, 5, 6]); // n=1, h=1, w=2, c=3
    expect([...nhwcToNchw(nhwc, 1, 1, 2, 3)]).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => nhwcToNchw(nhwc, 2, 1, 2, 3)).toThrow(/do not fill/);
  });
});
