import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng, initEngine } from '@prunebench/engine';
import { createBert, saveSafetensors, type Model } from '@prunebench/models';
import { countMacs } from '@prunebench/metrics';
import { disposeBatch } from '@prunebench/pruning';
import { glueQuality, splitGlueExamples } from './glue-bert.js';

beforeAll(async () => {
  // wasm with the engine's training kernels (embedding gradients): several times faster than cpu for these steps
  await initEngine({ backend: 'wasm' });
});

import {
  SYNTHETIC_GLUE_VOCAB as VOCAB,
  syntheticGlueBert as tinyBert,
  syntheticGlueEnvironment as environment,
  syntheticGlueTask as definition,
} from '../testing/synthetic-glue.js';

describe('GLUE BERT tasks', () => {
  it('registers glue-{sst2,cola,mrpc,rte}-bert-{tiny,mini} with their metrics and sequence lengths', async () => {
    const { TASKS } = await import('./registry.js');
    const ids = [...TASKS.keys()].filter((id) => id.startsWith('glue-'));
    expect(ids).toEqual(['bert-tiny', 'bert-mini'].flatMap((size) => ['sst2', 'cola', 'mrpc', 'rte'].map((t) => `glue-${t}-${size}`)));
    expect(['sst2', 'cola', 'mrpc', 'rte'].map((t) => TASKS.get(`glue-${t}-bert-tiny`)!.qualityName)).toEqual(['accuracy', 'mcc', 'f1', 'accuracy']);
    expect(TASKS.get('glue-mrpc-bert-tiny')!.latencyInputs!.map((i) => [i.name, i.shape[0]])).toEqual([['input_ids', 128], ['attention_mask', 128], ['token_type_ids', 128]]);
    expect(TASKS.get('glue-sst2-bert-mini')!.recipe.optimizer).toBe('adamw');
  });

  it('scores with GLUE metrics: accuracy, MCC (CoLA), F1 with accuracy (MRPC)', () => {
    const predicted = Int32Array.from([1, 1, 0, 0, 1]);
    const labels = Int32Array.from([1, 0, 0, 1, 1]);
    expect(glueQuality('sst2', predicted, labels)).toEqual({ quality: 0.6, qualityName: 'accuracy', accuracy: 0.6 });
    const mrpc = glueQuality('mrpc', predicted, labels);
    expect(mrpc.qualityName).toBe('f1');
    expect(mrpc.f1).toBeCloseTo(2 / 3); // precision 2/3, recall 2/3
    expect(mrpc.accuracy).toBeCloseTo(0.6);
    const cola = glueQuality('cola', predicted, labels);
    expect(cola.qualityName).toBe('mcc');
    expect(cola.mcc).toBeCloseTo((2 * 1 - 1 * 1) / Math.sqrt(3 * 2 * 3 * 2));
  });

  it('carves the validation split off train with a fixed seed and keeps the dev split as the test split', () => {
    const train = Array.from({ length: 50 }, (_, i) => ({ textA: `t${i}`, label: i % 2 }));
    const dev = Array.from({ length: 9 }, (_, i) => ({ textA: `d${i}`, label: i % 2 }));
    const a = splitGlueExamples(train, dev, { trainPerClass: 0, valSize: 10, testSize: 0, evalBatchSize: 4 }, 2);
    const b = splitGlueExamples(train, dev, { trainPerClass: 0, valSize: 10, testSize: 0, evalBatchSize: 4 }, 2);
    expect(a).toEqual(b);
    expect(a.val).toHaveLength(10);
    expect(a.train).toHaveLength(40);
    expect(new Set([...a.train, ...a.val].map((e) => e.textA)).size).toBe(50);
    expect(a.test).toEqual(dev);
    const subset = splitGlueExamples(train, dev, { trainPerClass: 5, valSize: 10, testSize: 4, evalBatchSize: 4 }, 2);
    expect(subset.train.filter((e) => e.label === 0)).toHaveLength(5);
    expect(subset.train.filter((e) => e.label === 1)).toHaveLength(5);
    expect(subset.test).toHaveLength(4);
  });

  it('trains the dense starting point once, caches it, and serves trimmed token batches', async () => {
    const env = environment();
    const task = await definition.load(definition.defaultSizing, env);
    expect(task.trainExamples).toBe(48);
    const cached = readdirSync(env.cacheDir).filter((f) => f.endsWith('.safetensors'));
    expect(cached).toHaveLength(1);
    expect(readdirSync(env.cacheDir).some((f) => f.endsWith('.partial'))).toBe(false);
    const model = await task.startingModel();
    const dense = await task.evaluate(model, 'test');
    expect(dense.qualityName).toBe('accuracy');
    // 1920 examples (60 AdamW steps at lr 1e-2) learn the keyword rule well beyond chance on dev
    expect(dense.quality).toBeGreaterThanOrEqual(0.75);

    // a second load reads the cache: same weights, no training
    env.messages.length = 0;
    const again = await definition.load(definition.defaultSizing, env);
    expect(env.messages.some((m) => /training from scratch/.test(m))).toBe(false);
    const model2 = await again.startingModel();
    for (const [name, v] of model.params) expect(Array.from(model2.params.get(name)!.dataSync()), name).toEqual(Array.from(v.dataSync()));

    const [first] = task.evaluationBatches(5, 5);
    const [repeat] = task.evaluationBatches(5, 5);
    const ids = (first.inputs as Record<string, tf.Tensor>).input_ids;
    expect(ids.shape[0]).toBe(5);
    expect(ids.shape[1]).toBeLessThanOrEqual(12); // trimmed to the longest sentence of the batch
    expect(Array.from(ids.dataSync())).toEqual(Array.from((repeat.inputs as Record<string, tf.Tensor>).input_ids.dataSync()));
    expect(Array.from(ids.dataSync().slice(0, 1))).toEqual([2]); // [CLS]
    for (const b of [first, repeat, ...task.sampleBatches(2, 4, new SeededRng(1))]) disposeBatch(b);

    expect(task.prunable(model).every((n) => n.endsWith('.weight') && !n.includes('LayerNorm'))).toBe(true);
    expect(task.prunable(model)).toContain('bert.embeddings.word_embeddings.weight');
    expect(task.prunable(model)).toContain('classifier.weight');
    expect(task.prunable(model)).toContain('bert.encoder.layer.1.attention.self.query.weight');
    const macs = countMacs(task.traceLayers(model));
    expect(macs.dense).toBe(2 * (12 * (4 * 8 * 8 + 2 * 8 * 16) + 2 * 2 * 12 * 12 * 4) + 8 * 8 + 8 * 2);
    for (const m of [model, model2] as Model[]) m.dispose();
  });

  it('fine-tunes a Hugging Face checkpoint from $PRUNEBENCH_BERT_CHECKPOINTS/<size> instead of training from scratch', async () => {
    const env = environment();
    const source = createBert(tinyBert(2, VOCAB.length), { seed: 11 });
    const dir = join(env.cacheDir, '..', 'checkpoints', 'bert-tiny');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      model_type: 'bert', vocab_size: VOCAB.length, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16,
      hidden_act: 'gelu', max_position_embeddings: 16, type_vocab_size: 2, layer_norm_eps: 1e-12,
    }));
    await saveSafetensors(join(dir, 'model.safetensors'), source);
    const task = await definition.load(definition.defaultSizing, { ...env, bertCheckpointsDir: join(dir, '..') });
    expect(env.messages.some((m) => m.includes(`fine-tuning ${dir} for 144 examples`))).toBe(true); // 3 epochs of 48
    const model = await task.startingModel();
    // started from the checkpoint: 5 AdamW steps at lr ≤ 1e-4 move each weight by at most ~5e-4
    const query = (m: Model) => Array.from(m.params.get('bert.encoder.layer.0.attention.self.query.weight')!.dataSync());
    const fresh = createBert(tinyBert(2, VOCAB.length), { seed: 0 });
    const distance = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    expect(distance(query(model), query(source))).toBeLessThan(1e-3);
    expect(distance(query(fresh), query(source))).toBeGreaterThan(1e-2);
    fresh.dispose();
    for (const m of [source, model]) m.dispose();
    // A checkpoint root that does not exist is refused, naming it (a typo must not silently train from scratch).
    await expect(definition.load(definition.defaultSizing, { ...environment(), bertCheckpointsDir: '/nonexistent/bert' }))
      .rejects.toThrow('PRUNEBENCH_BERT_CHECKPOINTS (or the task\'s bertCheckpointsDir) names /nonexistent/bert, which does not exist');
  });
});
