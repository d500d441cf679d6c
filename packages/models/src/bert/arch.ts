import type { ArchSpec } from '../types.js';

/** One encoder layer's sizes. After structured pruning layers differ: heads × headDim may be below `hidden`. */
export interface BertLayerSpec {
  heads: number;
  headDim: number;
  /** FFN neurons (`intermediate.dense` outputs). */
  intermediate: number;
}

/**
 * A BERT encoder with a sequence-classification head (Devlin et al. 2019; Hugging Face `BertForSequenceClassification`).
 * Layers are listed one by one so surgery can shrink each independently; dropping a layer removes its entry and the
 * layers after it are renumbered (`bert.encoder.layer.N` is always the N-th remaining layer), so a pruned model's
 * parameter names stay those of a Hugging Face checkpoint with fewer layers.
 */
export interface BertArch extends ArchSpec {
  family: 'bert';
  vocabSize: number;
  hidden: number;
  maxPosition: number;
  typeVocabSize: number;
  layerNormEps: number;
  numLabels: number;
  layers: BertLayerSpec[];
  /**
   * The sequence length the model is used at (a task sets it): where the structure prices heads, neurons and layers
   * in MACs, and `totalMacs` counts. Optional; default BERT_STRUCTURE_SEQ_LENGTH (128). Not part of the weights.
   */
  seqLength?: number;
  /**
   * Output width of the pooler (`bert.pooler.dense`: hidden → pooler, the classifier's input). Default `hidden`.
   * Written by surgery on the coupled group `bert.hidden`, which cuts the pooler's input but not its output.
   */
  pooler?: number;
  /**
   * The width LayerNorm statistics are taken over, ≥ hidden. Default `hidden` (plain LayerNorm). Surgery on
   * `bert.hidden` keeps the original width here, so the cut channels count as zeros in every LayerNorm's mean and
   * variance (mean = Σx / W, variance = (Σ(x − mean)² + (W − hidden) · mean²) / W): cutting channels that carry zero
   * is then exact, and a cut model normalises at the scale it was trained at. (A LayerNorm over the zero-padded
   * input; exported to ONNX as exactly that: Pad, LayerNormalization, Slice.)
   */
  layerNormWidth?: number;
}

export interface BertSizes {
  layers: number;
  hidden: number;
  heads: number;
  intermediate?: number;
  vocabSize?: number;
  maxPosition?: number;
  numLabels?: number;
}

/** The uncased WordPiece vocabulary of `bert-base-uncased` (what `PRUNEBENCH_VOCAB` holds). */
export const BERT_UNCASED_VOCAB_SIZE = 30_522;

/** A uniform BERT (every layer alike), Hugging Face defaults for the rest: intermediate 4·hidden, 512 positions, 2 token types, eps 1e-12. */
export function bertArch(sizes: BertSizes): BertArch {
  const { layers, hidden, heads } = sizes;
  if (!Number.isInteger(hidden) || !Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) {
    throw new Error(`bert: hidden (${hidden}) must be a multiple of heads (${heads})`);
  }
  return validateBertArch({
    family: 'bert',
    vocabSize: sizes.vocabSize ?? BERT_UNCASED_VOCAB_SIZE,
    hidden,
    maxPosition: sizes.maxPosition ?? 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    numLabels: sizes.numLabels ?? 2,
    layers: Array.from({ length: layers }, () => ({ heads, headDim: hidden / heads, intermediate: sizes.intermediate ?? 4 * hidden })),
  });
}

/** BERT-tiny (Turc et al. 2019): 2 layers, hidden 128, 2 heads, FFN 512. */
export const bertTinyArch = (numLabels = 2, vocabSize = BERT_UNCASED_VOCAB_SIZE): BertArch =>
  bertArch({ layers: 2, hidden: 128, heads: 2, numLabels, vocabSize });

/** BERT-mini (Turc et al. 2019): 4 layers, hidden 256, 4 heads, FFN 1024. */
export const bertMiniArch = (numLabels = 2, vocabSize = BERT_UNCASED_VOCAB_SIZE): BertArch =>
  bertArch({ layers: 4, hidden: 256, heads: 4, numLabels, vocabSize });

function positiveInt(value: unknown, field: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new Error(`bert arch: ${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** Checks an arch (e.g. read from JSON) and returns it typed; errors name the offending field. */
export function validateBertArch(arch: unknown): BertArch {
  if (typeof arch !== 'object' || arch === null) throw new Error('bert arch must be an object');
  const a = arch as Record<string, unknown>;
  if (a.family !== 'bert') throw new Error(`bert arch: family must be "bert", got ${JSON.stringify(a.family)}`);
  for (const field of ['vocabSize', 'hidden', 'maxPosition', 'typeVocabSize', 'numLabels'] as const) positiveInt(a[field], field);
  if (typeof a.layerNormEps !== 'number' || !(a.layerNormEps > 0)) {
    throw new Error(`bert arch: layerNormEps must be a positive number, got ${JSON.stringify(a.layerNormEps)}`);
  }
  if (a.seqLength !== undefined) positiveInt(a.seqLength, 'seqLength');
  if (a.pooler !== undefined) positiveInt(a.pooler, 'pooler');
  if (a.layerNormWidth !== undefined && positiveInt(a.layerNormWidth, 'layerNormWidth') < (a.hidden as number)) {
    throw new Error(`bert arch: layerNormWidth (${a.layerNormWidth}) must be at least hidden (${a.hidden})`);
  }
  if (!Array.isArray(a.layers)) throw new Error('bert arch: layers must be an array');
  a.layers.forEach((layer: unknown, i: number) => {
    if (typeof layer !== 'object' || layer === null) throw new Error(`bert arch: layers[${i}] must be an object`);
    const l = layer as Record<string, unknown>;
    positiveInt(l.heads, `layers[${i}].heads`);
    positiveInt(l.headDim, `layers[${i}].headDim`);
    positiveInt(l.intermediate, `layers[${i}].intermediate`);
  });
  return arch as BertArch;
}

/** The pooler's output width (the classifier's input). */
export const bertPoolerWidth = (arch: BertArch): number => arch.pooler ?? arch.hidden;

/** Hugging Face's parameter-name prefix of encoder layer `index`. */
export const bertLayerPrefix = (index: number): string => `bert.encoder.layer.${index}`;
