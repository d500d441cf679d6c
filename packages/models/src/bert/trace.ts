import type { LayerSpec } from '../types.js';
import { bertLayerPrefix, bertPoolerWidth, validateBertArch, type BertArch } from './arch.js';
import { bertLayerParamNames } from './model.js';

/**
 * Every layer of one example of `inputShape = [seq]` tokens, in execution order. MACs therefore depend on the
 * sequence length: linear layers scale with seq, the attention matmuls (scores Q·Kᵀ and context P·V, one per head
 * via `repeat`) with seq². The pooler and classifier run once (on [CLS]). Embedding lookups count no arithmetic.
 */
export function traceBert(arch: BertArch, inputShape: number[]): LayerSpec[] {
  validateBertArch(arch);
  if (inputShape.length !== 1 || !Number.isInteger(inputShape[0]) || inputShape[0] < 1) {
    throw new Error(`bert: inputShape must be [seq] (tokens per example), got [${inputShape}]`);
  }
  const seq = inputShape[0];
  if (seq > arch.maxPosition) throw new Error(`bert: sequence length ${seq} exceeds maxPosition ${arch.maxPosition}`);
  const h = arch.hidden;
  const layers: LayerSpec[] = [];
  const linear = (prefix: string, inFeatures: number, outFeatures: number, tokens = seq) =>
    layers.push({
      name: prefix, op: 'linear', weight: `${prefix}.weight`, bias: `${prefix}.bias`,
      inShape: tokens === 1 ? [inFeatures] : [tokens, inFeatures], outShape: tokens === 1 ? [outFeatures] : [tokens, outFeatures],
    });
  const pointwise = (name: string, op: LayerSpec['op'], shape: number[], extra: Partial<LayerSpec> = {}) =>
    layers.push({ name, op, inShape: [...shape], outShape: [...shape], ...extra });
  const layerNorm = (prefix: string) => pointwise(prefix, 'layernorm', [seq, h], { weight: `${prefix}.weight`, bias: `${prefix}.bias` });

  for (const table of ['word_embeddings', 'position_embeddings', 'token_type_embeddings']) {
    layers.push({ name: `bert.embeddings.${table}`, op: 'embedding', weight: `bert.embeddings.${table}.weight`, inShape: [seq], outShape: [seq, h] });
  }
  pointwise('bert.embeddings.add', 'add', [seq, h], { repeat: 2 });
  layerNorm('bert.embeddings.LayerNorm');
  arch.layers.forEach((layer, i) => {
    const n = bertLayerParamNames(i);
    const p = bertLayerPrefix(i);
    const { heads, headDim } = layer;
    const width = heads * headDim;
    linear(n.query, h, width);
    linear(n.key, h, width);
    linear(n.value, h, width);
    layers.push({
      name: `${p}.attention.self.scores`, op: 'matmul', inShape: [seq, headDim], outShape: [seq, seq],
      matmulShape: [seq, headDim, seq], repeat: heads,
    });
    pointwise(`${p}.attention.self.softmax`, 'softmax', [seq, seq], { repeat: heads });
    layers.push({
      name: `${p}.attention.self.context`, op: 'matmul', inShape: [seq, seq], outShape: [seq, headDim],
      matmulShape: [seq, seq, headDim], repeat: heads,
    });
    linear(n.attentionOut, width, h);
    pointwise(`${p}.attention.output.add`, 'add', [seq, h]);
    layerNorm(n.attentionNorm);
    linear(n.intermediate, h, layer.intermediate);
    pointwise(`${p}.intermediate.gelu`, 'gelu', [seq, layer.intermediate]);
    linear(n.output, layer.intermediate, h);
    pointwise(`${p}.output.add`, 'add', [seq, h]);
    layerNorm(n.outputNorm);
  });
  const pooler = bertPoolerWidth(arch);
  linear('bert.pooler.dense', h, pooler, 1);
  pointwise('bert.pooler.tanh', 'tanh', [pooler]);
  linear('classifier', pooler, arch.numLabels, 1);
  return layers;
}
