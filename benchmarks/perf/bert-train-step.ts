/**
 * Speed probe: BERT-tiny training step (SGD) and forward on wasm, batch 32, seq 64 (BATCH, SEQ override; PROFILE=1 adds
 * a per-kernel profile). Measured 2026-11-24 on the shared 2-core machine: ~0.68 s/step (47 examples/s), forward ~180 ms.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@prunebench/engine';
import { bertTinyArch, createBert } from '@prunebench/models';
import { createMaskedOptimizer, trainStep } from '@prunebench/pruning';

const batch = Number(process.env.BATCH ?? 32);
const seq = Number(process.env.SEQ ?? 64);
await initEngine({ backend: 'wasm' });
const model = createBert(bertTinyArch(2));
const ids = tf.tensor2d(Int32Array.from({ length: batch * seq }, (_, i) => (i * 7919) % 30522), [batch, seq], 'int32');
const inputs = { input_ids: ids, attention_mask: tf.onesLike(ids), token_type_ids: tf.zerosLike(ids) };
const labels = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 2), 'int32');
const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, { compiled: 'never' });
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const loss = await trainStep(model, { inputs, labels, size: batch }, optimizer, { learningRate: 0.01 });
  console.log(`step ${i}: ${(performance.now() - t0).toFixed(0)} ms, loss ${loss.toFixed(4)}`);
}
const t0 = performance.now();
for (let i = 0; i < 5; i++) { const logits = model.forward(inputs, { training: false }); await logits.data(); logits.dispose(); }
console.log(`forward: ${((performance.now() - t0) / 5).toFixed(0)} ms/batch`);
if (process.env.PROFILE) {
  const kernelMs = new Map<string, number>();
  const info = await tf.profile(() => {
    trainStep(model, { inputs, labels, size: batch }, optimizer, { learningRate: 0.01 });
  });
  for (const k of info.kernels) kernelMs.set(k.name, (kernelMs.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log([...kernelMs].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([n, t]) => `${n} ${t.toFixed(1)}`).join('\n'));
}
