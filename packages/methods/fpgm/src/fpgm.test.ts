import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { bertArch, createBert, createResNetCifar, getModelStructure, traceLayers, type BertArch, type Model, type ResNetCifarArch } from '@prunebench/models';
import { countMacs, countParameters } from '@prunebench/metrics';
import { RandomImageTrainer, testMethodContext } from '@prunebench/pruning/testing';
import defaultExport, { distanceSums, fpgmMethod, unitDistanceSums } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 8, numClasses: 3, stem: 4,
  stages: [{ blocks: [{ mid: 4, out: 4, stride: 1 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }],
};

const params = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);

/** Four filters in 2-D: (0, 0) is obviously central. */
const POINTS = [[2, 0], [0, 0], [0, 2], [-2, -2]];

describe('distanceSums', () => {
  it('is the sum of Euclidean distances to the other units, smallest for the unit nearest the geometric median', () => {
    const sums = distanceSums(POINTS.flat(), 4, 2);
    const r8 = Math.sqrt(8);
    const r20 = Math.sqrt(20);
    // by hand: |(2,0)−(0,0)| = 2, |(2,0)−(0,2)| = √8, |(2,0)−(−2,−2)| = √20, |(0,0)−(0,2)| = 2, |(0,0)−(−2,−2)| = √8, |(0,2)−(−2,−2)| = √20
    expect(Array.from(sums)).toEqual([2 + r8 + r20, 2 + 2 + r8, r8 + 2 + r20, r20 + r8 + r20].map((x) => expect.closeTo(x, 12)));
    expect(sums.indexOf(Math.min(...sums))).toBe(1);
    expect(Array.from(distanceSums([], 0, 3))).toEqual([]);
    expect(Array.from(distanceSums([1, 2, 3], 1, 3))).toEqual([0]);
  });
});

describe('fpgm method', () => {
  it('is registered by name with paper defaults and checks its options', () => {
    expect(defaultExport).toBe(fpgmMethod);
    expect(fpgmMethod.name).toBe('fpgm');
    expect(fpgmMethod.structured).toBe(true);
    expect(fpgmMethod.targetKinds).toEqual(['flops-reduction', 'compression']);
    expect(fpgmMethod.parseOptions(undefined)).toEqual({ allocation: 'layerwise', coupledGroups: false, steps: 1, finetune: true });
    expect(() => fpgmMethod.parseOptions({ allocation: 'uniform' })).toThrow(/fpgm: option allocation must be one of "layerwise", "global"/);
    expect(() => fpgmMethod.parseOptions({ rate: 0.4 })).toThrow(/fpgm: unknown option "rate"/);
  });

  it('removes the filter a hand computation picks (the central one) from a toy layer', async () => {
    const model = createResNetCifar(ARCH, { seed: 1 });
    // layer1.0.conv1's four filters (3·3·4 weights each) are zero except two coordinates, the 2-D points above
    const w = new Float32Array(3 * 3 * 4 * 4);
    POINTS.forEach(([a, b], filter) => {
      w[0 * 4 + filter] = a; // (kh 0, kw 0, in 0)
      w[1 * 4 + filter] = b; // (kh 0, kw 0, in 1)
    });
    model.params.get('layer1.0.conv1.weight')!.assign(tf.tensor4d(w, [3, 3, 4, 4]));
    const structure = getModelStructure(model);
    expect(Array.from(await unitDistanceSums(structure, model, 'layer1.0.conv1'))).toEqual(Array.from(distanceSums(POINTS.flat(), 4, 2)).map((x) => expect.closeTo(x, 5)));
    const unit = structure.channelGroups(model).find((g) => g.id === 'layer1.0.conv1')!.paramsPerUnit;
    const ratio = params(model) / (params(model) - unit); // exactly one unit of that group
    const result = await fpgmMethod.run(testMethodContext(fpgmMethod, {
      model, trainer: new RandomImageTrainer(0), target: { kind: 'compression', ratio }, options: { layerRatios: { 'layer1.0.conv1': 1 }, finetune: false },
    }));
    expect((result.details!.steps as { groups: Record<string, { kept: number }> }[])[0].groups['layer1.0.conv1'].kept).toBe(3);
    const kept = result.model.params.get('layer1.0.conv1.weight')!.arraySync() as number[][][][];
    expect([0, 1, 2].map((j) => [kept[0][0][0][j], kept[0][0][1][j]])).toEqual([POINTS[0], POINTS[2], POINTS[3]]);
    result.model.dispose();
    model.dispose();
  });

  for (const allocation of ['layerwise', 'global'] as const) {
    for (const coupledGroups of [false, true]) {
      it(`${allocation}${coupledGroups ? ' with coupled groups' : ''}: meets the FLOP target by surgery and fine-tunes within the budget`, async () => {
        const model = createResNetCifar(ARCH, { seed: 2 });
        const structure = getModelStructure(model);
        const before = structure.totalMacs!(model);
        const trainer = new RandomImageTrainer(32);
        const result = await fpgmMethod.run(testMethodContext(fpgmMethod, {
          model, trainer, target: { kind: 'flops-reduction', fraction: 0.4 }, options: { allocation, coupledGroups, steps: 2 },
        }));
        const after = structure.totalMacs!(result.model);
        expect(1 - after / before).toBeGreaterThanOrEqual(0.4);
        expect(1 - after / before).toBeLessThan(0.55);
        const arch = result.model.arch as ResNetCifarArch;
        if (coupledGroups) expect(arch.stem < 4 || arch.stages.some((s) => s.blocks[0].out < 8)).toBe(true);
        else expect([arch.stem, ...arch.stages.map((s) => s.blocks[0].out)]).toEqual([4, 4, 8, 8]);
        expect(trainer.calls.map((c) => [c.label, c.examples])).toEqual([['fpgm-step-1', 16], ['fpgm-step-2', 16]]);
        expect(trainer.calls[1].arch).toEqual(result.model.arch);
        expect(model.params.get('layer1.0.conv1.weight')!.shape).toEqual([3, 3, 4, 4]); // the input model is untouched
        // the surgered model re-creates from its arch
        const again = createResNetCifar(arch);
        expect(params(again)).toBe(params(result.model));
        again.dispose();
        result.model.dispose();
        model.dispose();
      });
    }
  }

  it('rejects layerRatios naming no group, and layerRatios with global allocation', async () => {
    const model = createResNetCifar(ARCH, { seed: 3 });
    const run = (options: Record<string, unknown>) => fpgmMethod.run(testMethodContext(fpgmMethod, {
      model, trainer: new RandomImageTrainer(0), target: { kind: 'flops-reduction', fraction: 0.2 }, options,
    }));
    await expect(run({ layerRatios: { 'layer9.0.conv1': 1 } })).rejects.toThrow(/layerRatios names "layer9.0.conv1", which is not a channel group/);
    await expect(run({ allocation: 'global', layerRatios: { 'layer1.0.conv1': 1 } })).rejects.toThrow(/layerRatios is for allocation "layerwise"/);
    model.dispose();
  });

  for (const allocation of ['layerwise', 'global'] as const) {
    it(`BERT (${allocation}): heads, neurons and, with coupledGroups, the hidden size by their weights' distance sums`, async () => {
      const model = createBert({ ...bertArch({ layers: 2, hidden: 16, heads: 4, intermediate: 24, vocabSize: 30, maxPosition: 8 }), seqLength: 8 }, { seed: 5 });
      const structure = getModelStructure(model);
      const before = structure.totalMacs!(model);
      for (const coupledGroups of [false, true]) {
        const result = await fpgmMethod.run(testMethodContext(fpgmMethod, {
          model, trainer: new RandomImageTrainer(0), target: { kind: 'flops-reduction', fraction: 0.3 }, options: { allocation, coupledGroups, finetune: false },
        }));
        const after = structure.totalMacs!(result.model);
        expect(1 - after / before).toBeGreaterThanOrEqual(0.3);
        expect(1 - after / before).toBeLessThan(0.45);
        const arch = result.model.arch as BertArch;
        if (coupledGroups && allocation === 'layerwise') expect(arch.hidden).toBeLessThan(16);
        if (!coupledGroups) expect(arch.hidden).toBe(16);
        const again = createBert(arch);
        expect(params(again)).toBe(params(result.model));
        again.dispose();
        result.model.dispose();
      }
      model.dispose();
    });
  }

  it('the structure\'s unit costs and plan sizes agree with metrics\' MAC and parameter counters before and after coupled surgery', async () => {
    const macs = (m: Model, input: number[]) => countMacs(traceLayers(m.arch, input)).dense;
    const cases: [Model, number[]][] = [
      [createResNetCifar(ARCH, { seed: 6 }), [32, 32, 3]],
      [createBert({ ...bertArch({ layers: 2, hidden: 16, heads: 4, intermediate: 24, vocabSize: 30, maxPosition: 8 }), seqLength: 8 }, { seed: 6 }), [8]],
    ];
    for (const [model, input] of cases) {
      const structure = getModelStructure(model);
      expect(structure.totalMacs!(model)).toBe(macs(model, input));
      for (const group of structure.channelGroups(model, { coupled: true })) {
        const plan = { keep: { [group.id]: Array.from({ length: group.size - 1 }, (_, i) => i + 1) } };
        const cut = structure.applySurgery(model, plan);
        expect(macs(model, input) - macs(cut, input)).toBe(group.macsPerUnit);
        expect((await countParameters(model)).total - (await countParameters(cut)).total).toBe(group.paramsPerUnit);
        expect(structure.planSize!(model, plan)).toEqual({ macs: macs(cut, input), params: (await countParameters(cut)).total });
        cut.dispose();
      }
      model.dispose();
    }
  });
});
