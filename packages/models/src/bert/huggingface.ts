import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTorchCheckpoint } from '../pytorch/checkpoint.js';
import { readSafetensors } from '../safetensors.js';
import { loadStateDict, saveSafetensors } from '../state-dict.js';
import type { TensorMap } from '../tensor-map.js';
import { validateBertArch, type BertArch } from './arch.js';
import { createBert, type BertModel } from './model.js';

export interface LoadHuggingFaceBertOptions {
  /** Labels of the classification head; default the config's `num_labels` (or `id2label` size), else 2. */
  numLabels?: number;
  /** Seed of the parts the checkpoint lacks (a fresh classifier head, a missing pooler). Default 0. */
  seed?: number;
  log?: (message: string) => void;
}

/** The fields of a Hugging Face `config.json` BERT needs, mapped to a prunebench arch (errors name the field and file). */
export function bertArchFromHuggingFaceConfig(config: unknown, file = 'config.json', numLabels?: number): BertArch {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error(`${file}: must hold a JSON object`);
  const c = config as Record<string, unknown>;
  const int = (field: string, fallback?: number): number => {
    const value = c[field] ?? fallback;
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new Error(`${file}: "${field}" must be a positive integer, got ${JSON.stringify(c[field])}`);
    }
    return value as number;
  };
  if (c.model_type !== undefined && c.model_type !== 'bert') {
    throw new Error(`${file}: "model_type" is ${JSON.stringify(c.model_type)}; only "bert" checkpoints load here`);
  }
  const act = c.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new Error(`${file}: "hidden_act" is ${JSON.stringify(act)}; prunebench's BERT implements only "gelu" (erf form)`);
  const positionType = c.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') throw new Error(`${file}: "position_embedding_type" is ${JSON.stringify(positionType)}; only "absolute" is supported`);
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  if (hidden % heads !== 0) throw new Error(`${file}: "hidden_size" (${hidden}) is not a multiple of "num_attention_heads" (${heads})`);
  const eps = c.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0)) throw new Error(`${file}: "layer_norm_eps" must be a positive number, got ${JSON.stringify(eps)}`);
  const labelsFromConfig = typeof c.id2label === 'object' && c.id2label !== null ? Object.keys(c.id2label).length : undefined;
  const labels = numLabels ?? (c.num_labels as number | undefined) ?? labelsFromConfig ?? 2;
  if (!Number.isInteger(labels) || labels < 1) throw new Error(`${file}: "num_labels" must be a positive integer, got ${JSON.stringify(labels)}`);
  const intermediate = int('intermediate_size');
  return validateBertArch({
    family: 'bert',
    vocabSize: int('vocab_size'),
    hidden,
    maxPosition: int('max_position_embeddings', 512),
    typeVocabSize: int('type_vocab_size', 2),
    layerNormEps: eps,
    numLabels: labels,
    layers: Array.from({ length: int('num_hidden_layers') }, () => ({ heads, headDim: hidden / heads, intermediate })),
  });
}

/**
 * Checkpoint names → prunebench names: a bare `BertModel` (`embeddings.…`, `encoder.…`, `pooler.…`) gets the `bert.`
 * prefix; TF-converted `LayerNorm.gamma/beta` become `weight/bias`; pre-training heads (`cls.…`) and the
 * `position_ids` buffer are dropped.
 */
export function normaliseHuggingFaceBertNames(tensors: TensorMap): { tensors: TensorMap; dropped: string[] } {
  const out: TensorMap = new Map();
  const dropped: string[] = [];
  for (const [raw, tensor] of tensors) {
    let name = raw;
    if (/^(embeddings|encoder|pooler)\./.test(name)) name = `bert.${name}`;
    name = name.replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight').replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
    if (name.startsWith('cls.') || name.endsWith('.position_ids')) {
      dropped.push(raw);
      continue;
    }
    out.set(name, tensor);
  }
  return { tensors: out, dropped };
}

/** A checkpoint's state dict: `model.safetensors`, else `pytorch_model.bin` (PyTorch zip or legacy pickle). */
export async function readHuggingFaceStateDict(dir: string): Promise<{ tensors: TensorMap; file: string }> {
  const safetensors = join(dir, 'model.safetensors');
  if (existsSync(safetensors)) return { tensors: await readSafetensors(safetensors), file: safetensors };
  const bin = join(dir, 'pytorch_model.bin');
  if (existsSync(bin)) return { tensors: loadTorchCheckpoint(bin), file: bin };
  throw new Error(`Hugging Face checkpoint ${dir}: neither model.safetensors nor pytorch_model.bin is there`);
}

/**
 * Loads a Hugging Face BERT checkpoint folder (`config.json` + `model.safetensors` or `pytorch_model.bin`), from
 * `BertForSequenceClassification` or a bare `BertModel` / pre-training checkpoint. Encoder and embeddings must be
 * complete; a missing (or differently sized) classifier head, or a missing pooler, starts from BERT's seeded init and
 * is logged.
 */
export async function loadHuggingFaceBert(dir: string, options: LoadHuggingFaceBertOptions = {}): Promise<BertModel> {
  const log = options.log ?? (() => {});
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new Error(`Hugging Face checkpoint ${dir}: config.json is missing`);
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (error) {
    throw new Error(`${configFile}: not valid JSON (${(error as Error).message})`);
  }
  const arch = bertArchFromHuggingFaceConfig(config, configFile, options.numLabels);
  const { tensors: raw, file } = await readHuggingFaceStateDict(dir);
  const { tensors, dropped } = normaliseHuggingFaceBertNames(raw);
  if (dropped.length > 0) log(`${file}: ignoring ${dropped.length} tensors that are not part of BertForSequenceClassification (${dropped.slice(0, 3).join(', ')}${dropped.length > 3 ? ', …' : ''})`);
  const model = createBert(arch, { seed: options.seed ?? 0 });
  try {
    const fresh: string[] = [];
    for (const head of ['classifier', 'bert.pooler.dense']) {
      const weight = tensors.get(`${head}.weight`);
      const expected = model.params.get(`${head}.weight`)!.shape;
      // PyTorch layout [out, in] vs internal [in, out]
      const fits = weight && weight.shape.length === 2 && weight.shape[0] === expected[1] && weight.shape[1] === expected[0];
      if (!fits) {
        if (weight) log(`${file}: ${head}.weight has shape [${weight.shape}], the model needs [${expected[1]},${expected[0]}]; using a fresh head`);
        tensors.delete(`${head}.weight`);
        tensors.delete(`${head}.bias`);
        fresh.push(head);
      }
    }
    const result = loadStateDict(model, tensors, { strict: false });
    const missing = result.missing.filter((name) => !fresh.some((head) => name.startsWith(`${head}.`)));
    if (missing.length > 0) throw new Error(`${file}: missing ${missing.length} BERT tensors: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    if (result.unexpected.length > 0) throw new Error(`${file}: tensors this BERT does not have: ${result.unexpected.slice(0, 5).join(', ')}`);
    for (const head of fresh) log(`${file}: no usable ${head} in the checkpoint; ${head} starts from BERT's init (seed ${options.seed ?? 0})`);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** Saves a BERT as `model.safetensors` with its arch in the metadata (PyTorch layout, Hugging Face names). */
export async function saveBert(path: string, model: BertModel, metadata: Record<string, string> = {}): Promise<void> {
  await saveSafetensors(path, model, metadata);
}
