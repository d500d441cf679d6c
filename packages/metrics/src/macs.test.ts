import type { LayerSpec } from '@prunebench/models';
import { describe, expect, it } from 'vitest';
import { countMacs, theoreticalSpeedup } from './macs.js';

const conv = (name: string, inShape: number[], outShape: number[], k = 3, groups?: number): LayerSpec => ({
  name, op: 'conv2d', weight: `${name}.weight`, inShape, outShape, kernel: [k, k], stride: [inShape[0] / outShape[0], inShape[1] / outShape[1]], groups,
});

describe('countMacs: headline conv2d + linear + matmul', () => {
  it('counts each op by its formula, computed by hand', () => {
    const layers: LayerSpec[] = [
      conv('c1', [8, 8, 3], [4, 4, 4]), // 4·4·4 · 3·3 · 3 = 1,728
      conv('g2', [4, 4, 4], [4, 4, 4], 3, 2), // 4·4·4 · 9 · 2 = 1,152
      conv('dw', [4, 4, 4], [4, 4, 4], 3, 4), // 4·4·4 · 9 · 1 = 576
      { name: 'fc', op: 'linear', weight: 'fc.weight', bias: 'fc.bias', inShape: [64], outShape: [10] }, // 640
      { name: 'q', op: 'linear', weight: 'q.weight', inShape: [5, 8], outShape: [5, 16] }, // 5 tokens · 8 · 16 = 640
      { name: 'scores', op: 'matmul', inShape: [5, 16], outShape: [2, 5, 5], matmulShape: [5, 8, 5], repeat: 2 }, // 5·8·5·2 = 400
      { name: 'relu', op: 'relu', inShape: [4, 4, 4], outShape: [4, 4, 4] }, // not in the headline
    ];
    const counts = countMacs(layers);
    expect(counts.byLayer.map((l) => [l.name, l.dense])).toEqual([['c1', 1728], ['g2', 1152], ['dw', 576], ['fc', 640], ['q', 640], ['scores', 400]]);
    expect(counts.dense).toBe(5136);
    expect(counts.effective).toBe(5136);
    expect(counts.full).toBeUndefined();
    expect(theoreticalSpeedup(counts)).toBe(1);
  });

  it('effective MACs scale each weight layer by its density; activation matmuls stay dense', () => {
    const layers: LayerSpec[] = [
      conv('c1', [8, 8, 3], [4, 4, 4]), // 1,728 × 0.5 = 864
      { name: 'fc', op: 'linear', weight: 'fc.weight', inShape: [64], outShape: [10] }, // 640 × 0.25 = 160
      { name: 'scores', op: 'matmul', inShape: [5, 16], outShape: [5, 5], matmulShape: [5, 16, 5] }, // 400, dense
    ];
    const density = new Map([['c1.weight', 0.5], ['fc.weight', 0.25], ['unused.weight', 0]]);
    const counts = countMacs(layers, { weightDensity: density });
    expect(counts.dense).toBe(2768);
    expect(counts.effective).toBe(864 + 160 + 400);
    expect(theoreticalSpeedup(counts)).toBeCloseTo(2768 / 1424, 12);
  });

  it('structural pruning is the count of the smaller trace', () => {
    // conv 3→8 then 8→8 (8×8 maps, 3×3), pruned to 3→4 then 4→8: the smaller model's own trace
    const dense = countMacs([conv('a', [8, 8, 3], [8, 8, 8]), conv('b', [8, 8, 8], [8, 8, 8])]);
    const pruned = countMacs([conv('a', [8, 8, 3], [8, 8, 4]), conv('b', [8, 8, 4], [8, 8, 8])]);
    expect(dense.dense).toBe(64 * 8 * 9 * 3 + 64 * 8 * 9 * 8); // 13,824 + 36,864
    expect(pruned.dense).toBe(64 * 4 * 9 * 3 + 64 * 8 * 9 * 4); // 6,912 + 18,432
    expect(pruned.effective).toBe(pruned.dense);
    expect(theoreticalSpeedup(pruned, dense)).toBeCloseTo(50688 / 25344, 12);
  });

  it('full count adds bias, norm, activation, pooling, residual and softmax operations', () => {
    const layers: LayerSpec[] = [
      { ...conv('c1', [4, 4, 2], [4, 4, 2]), bias: 'c1.bias' }, // 16·2·9·2 = 576 MACs, bias 32
      { name: 'bn', op: 'batchnorm', inShape: [4, 4, 2], outShape: [4, 4, 2] }, // 32 × 1
      { name: 'relu', op: 'relu', inShape: [4, 4, 2], outShape: [4, 4, 2] }, // 32 × 1
      { name: 'add', op: 'add', inShape: [4, 4, 2], outShape: [4, 4, 2] }, // 32 × 1
      { name: 'sc', op: 'shortcut', inShape: [4, 4, 2], outShape: [2, 2, 4] }, // 0
      { name: 'pool', op: 'avgpool', inShape: [4, 4, 2], outShape: [2] }, // 32 inputs × 1
      { name: 'ln', op: 'layernorm', inShape: [3, 4], outShape: [3, 4] }, // 12 × 5
      { name: 'gelu', op: 'gelu', inShape: [3, 4], outShape: [3, 4] }, // 12 × 8
      { name: 'tanh', op: 'tanh', inShape: [4], outShape: [4] }, // 4 × 4
      { name: 'softmax', op: 'softmax', inShape: [3, 3], outShape: [3, 3], repeat: 2 }, // 9 × 3 × 2
      { name: 'emb', op: 'embedding', inShape: [3], outShape: [3, 4] }, // 0
    ];
    const counts = countMacs(layers, { full: true });
    expect(counts.dense).toBe(576);
    expect(counts.full?.byOp).toEqual({ conv2d: 576, bias: 32, batchnorm: 32, relu: 32, add: 32, shortcut: 0, avgpool: 32, layernorm: 60, gelu: 96, tanh: 16, softmax: 54, embedding: 0 });
    expect(counts.full?.dense).toBe(576 + 32 * 5 + 60 + 96 + 16 + 54);
  });

  it('rejects malformed layers, naming the layer and field', () => {
    expect(() => countMacs([{ name: 'c', op: 'conv2d', inShape: [4, 4, 3], outShape: [4, 4, 4] }])).toThrow(/"c" \(conv2d\): kernel/);
    expect(() => countMacs([conv('g', [4, 4, 3], [4, 4, 4], 3, 2)])).toThrow(/groups 2/);
    expect(() => countMacs([{ name: 'm', op: 'matmul', inShape: [2], outShape: [2] }])).toThrow(/"m" \(matmul\): matmulShape/);
    expect(() => countMacs([conv('c', [4, 4], [4, 4, 4])])).toThrow(/\[h, w, c\]/);
    expect(() => countMacs([{ ...conv('c', [4, 4, 3], [4, 4, 4]), repeat: 0 }])).toThrow(/repeat 0/);
    expect(() => countMacs([], { weightDensity: new Map([['w', 1.5]]) })).toThrow(/weightDensity for "w"/);
    expect(() => theoreticalSpeedup({ dense: 10, effective: 0 })).toThrow(/effective MACs is 0/);
  });
});

/**
 * An independent, hand-written trace of CIFAR ResNet-(6n+2) (He et al. 2016, option-A shortcuts):
 * conv3x3(3→16), three stages of n basic blocks (16, 32, 64 channels; stride 2 at stages 2, 3), global
 * average pool, linear 64→10. Checks countMacs against the published figures, independent of the models package.
 */
function handTracedResNetCifar(depth: number): LayerSpec[] {
  const n = (depth - 2) / 6;
  const layers: LayerSpec[] = [conv('conv1', [32, 32, 3], [32, 32, 16])];
  let size = 32;
  let channels = 16;
  for (const [stage, width] of [[1, 16], [2, 32], [3, 64]]) {
    for (let block = 0; block < n; block++) {
      const outSize = block === 0 && stage > 1 ? size / 2 : size;
      layers.push(conv(`layer${stage}.${block}.conv1`, [size, size, channels], [outSize, outSize, width]));
      layers.push(conv(`layer${stage}.${block}.conv2`, [outSize, outSize, width], [outSize, outSize, width]));
      size = outSize;
      channels = width;
    }
  }
  layers.push({ name: 'linear', op: 'linear', weight: 'linear.weight', bias: 'linear.bias', inShape: [64], outShape: [10] });
  return layers;
}

describe('countMacs on CIFAR ResNets (published counts)', () => {
  it('ResNet-20: 40,551,040 and ResNet-56: 125,485,696 conv + linear MACs per 32×32 image', () => {
    expect(countMacs(handTracedResNetCifar(20)).dense).toBe(40_551_040);
    expect(countMacs(handTracedResNetCifar(56)).dense).toBe(125_485_696);
  });
});

/** A hand-written trace of BERT-base encoder layers (hidden 768, 12 heads of 64, intermediate 3072) at sequence length L. */
function handTracedBertEncoder(seq: number, layers = 12, hidden = 768, heads = 12, intermediate = 3072): LayerSpec[] {
  const headDim = hidden / heads;
  const linear = (name: string, inF: number, outF: number): LayerSpec => ({ name, op: 'linear', weight: `${name}.weight`, bias: `${name}.bias`, inShape: [seq, inF], outShape: [seq, outF] });
  const trace: LayerSpec[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    trace.push(linear(`${p}.attention.self.query`, hidden, hidden), linear(`${p}.attention.self.key`, hidden, hidden), linear(`${p}.attention.self.value`, hidden, hidden));
    trace.push({ name: `${p}.attention.self.scores`, op: 'matmul', inShape: [seq, hidden], outShape: [heads, seq, seq], matmulShape: [seq, headDim, seq], repeat: heads });
    trace.push({ name: `${p}.attention.self.softmax`, op: 'softmax', inShape: [seq, seq], outShape: [seq, seq], repeat: heads });
    trace.push({ name: `${p}.attention.self.context`, op: 'matmul', inShape: [heads, seq, seq], outShape: [seq, hidden], matmulShape: [seq, seq, headDim], repeat: heads });
    trace.push(linear(`${p}.attention.output.dense`, hidden, hidden), linear(`${p}.intermediate.dense`, hidden, intermediate), linear(`${p}.output.dense`, intermediate, hidden));
  }
  return trace;
}

describe('countMacs on BERT-base encoders as a function of sequence length', () => {
  it('4·L·H² + 2·L·H·I weight MACs and 2·L²·H attention MACs per layer', () => {
    const perLayer = (L: number) => 4 * L * 768 ** 2 + 2 * L * 768 * 3072 + 2 * L * L * 768;
    expect(countMacs(handTracedBertEncoder(128)).dense).toBe(12 * perLayer(128)); // 11,173,625,856 (≈ 11.2 G, the usual figure)
    expect(countMacs(handTracedBertEncoder(128)).dense).toBe(11_173_625_856);
    expect(countMacs(handTracedBertEncoder(64)).dense).toBe(12 * perLayer(64));
    // softmax (full count): 3 ops · L² · heads per layer
    expect(countMacs(handTracedBertEncoder(128, 1), { full: true }).full?.byOp.softmax).toBe(3 * 128 * 128 * 12);
  });

  it('pruning the weights leaves the attention matmuls dense', () => {
    const trace = handTracedBertEncoder(128, 1);
    const density = new Map(trace.filter((l) => l.weight).map((l) => [l.weight!, 0]));
    const counts = countMacs(trace, { weightDensity: density });
    expect(counts.effective).toBe(2 * 128 * 128 * 768);
  });
});
