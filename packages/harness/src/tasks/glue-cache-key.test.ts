import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@prunebench/engine';
import { SYNTHETIC_GLUE_VOCAB, syntheticGlueEnvironment, syntheticGlueTask } from '../testing/synthetic-glue.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('the BERT dense-training cache', () => {
  it('keys on the vocabulary, so a model trained with another one is never loaded', async () => {
    const env = syntheticGlueEnvironment();
    (await syntheticGlueTask.load(syntheticGlueTask.defaultSizing, env)).dispose();
    const cached = () => readdirSync(env.cacheDir).filter((f) => f.endsWith('.safetensors')).sort();
    expect(cached()).toHaveLength(1);
    // the same words with two extra entries: a larger embedding table, another tokenization
    writeFileSync(join(env.vocabDir!, 'bert-base-uncased', 'vocab.txt'), `${[...SYNTHETIC_GLUE_VOCAB, 'extra1', 'extra2'].join('\n')}\n`);
    env.messages.length = 0;
    const task = await syntheticGlueTask.load(syntheticGlueTask.defaultSizing, env);
    const model = await task.startingModel();
    expect(model.params.get('bert.embeddings.word_embeddings.weight')!.shape[0]).toBe(SYNTHETIC_GLUE_VOCAB.length + 2);
    expect(env.messages.some((m) => m.includes('no cached dense model'))).toBe(true);
    expect(cached()).toHaveLength(2);
    model.dispose();
    task.dispose();
  });

  it('sets an unreadable cached model aside and trains it again', async () => {
    const env = syntheticGlueEnvironment();
    (await syntheticGlueTask.load(syntheticGlueTask.defaultSizing, env)).dispose();
    const [file] = readdirSync(env.cacheDir).filter((f) => f.endsWith('.safetensors'));
    writeFileSync(join(env.cacheDir, file), 'not a safetensors file');
    env.messages.length = 0;
    (await syntheticGlueTask.load(syntheticGlueTask.defaultSizing, env)).dispose();
    expect(env.messages.some((m) => /cached dense model .* is unreadable .*; set aside as .*\.corrupt-\d+, training it again/.test(m))).toBe(true);
    expect(readdirSync(env.cacheDir).filter((f) => f.includes('.corrupt-'))).toHaveLength(1);
  });
});
