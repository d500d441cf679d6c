import type * as tf from '@tensorflow/tfjs';
import type { ModelStructure } from './structure.js';

/**
 * Models are plain data: named tf.Variables plus a JSON description of their structure (the arch).
 * Names follow PyTorch / Hugging Face (`conv1.weight`, `layer2.0.bn1.running_mean`, `linear.weight`,
 * `bert.encoder.layer.0.attention.self.query.weight`) so real checkpoints load without renaming tables.
 *
 * Layouts inside prunebench are tfjs-native; IO (safetensors, PyTorch checkpoints, ONNX) converts:
 *   conv2d weight   internal [kh, kw, in, out] (HWIO)   <->  PyTorch [out, in, kh, kw] (OIHW)
 *   linear weight   internal [in, out]                  <->  PyTorch [out, in]
 *   everything else the same shape in both.
 */
export type ParamKind =
  | 'conv2d' // conv kernel, internal HWIO
  | 'linear' // dense weight, internal [in, out]
  | 'bias'
  | 'norm-scale' // batch-norm / layer-norm gamma
  | 'norm-shift' // batch-norm / layer-norm beta
  | 'embedding'; // [rows, dim], same in both layouts

/** A JSON-serialisable description of a model's structure; `family` selects the implementation. */
export interface ArchSpec {
  family: string;
  [key: string]: unknown;
}

export interface Model<A extends ArchSpec = ArchSpec> {
  readonly arch: A;
  /** Trainable parameters by PyTorch name, internal layout. */
  readonly params: Map<string, tf.Variable>;
  /** Non-trainable state by PyTorch name (batch-norm running_mean / running_var). */
  readonly buffers: Map<string, tf.Variable>;
  /** The kind of every trainable parameter (drives layout conversion, prunability and MAC counting). */
  readonly paramKinds: Map<string, ParamKind>;
  /**
   * Logits for a batch. `training: true` uses batch statistics in batch norm and updates the running
   * statistics (PyTorch convention: momentum 0.1, unbiased variance for the running estimate);
   * `training: false` uses the running statistics. Input: images NHWC float32, or token ids for BERT.
   */
  forward(input: tf.Tensor | Record<string, tf.Tensor>, opts: ForwardOptions): tf.Tensor;
  dispose(): void;
}

export interface ForwardOptions {
  training: boolean;
  /** Called with the input of every conv / linear layer as the forward reaches it (calibration: Wanda, SparseGPT). */
  tap?: LayerInputTap;
}

/**
 * The input of one conv or linear layer, inside the forward's tf.tidy: a tap computes what it needs and keeps it
 * (tf.keep); the input itself is disposed with the forward.
 */
export interface LayerInput {
  /** The layer's weight parameter, e.g. `layer1.0.conv1.weight`. */
  weight: string;
  /** linear: [rows, in]; conv: NHWC [batch, h, w, in]. */
  input: tf.Tensor;
  /** conv only: how the kernel slides (symmetric zero padding of `pad` pixels). */
  conv?: { stride: number; pad: number };
  /** linear only: 1 for rows that are real examples, 0 for padding (BERT's padded tokens); absent = all rows. */
  rowMask?: tf.Tensor;
}

export type LayerInputTap = (layer: LayerInput) => void;

/**
 * One layer of a model's computation for one example, as the model family traces it (used for FLOP/MAC
 * counting, latency labels and surgery plans). Shapes exclude the batch dimension: images [h, w, c],
 * token sequences [seq, features].
 */
export interface LayerSpec {
  /** PyTorch-style module name, e.g. `layer1.0.conv1`, `bert.encoder.layer.0.attention.self`. */
  name: string;
  op:
    | 'conv2d'
    | 'linear'
    | 'matmul' // activation x activation (attention scores / context); uses matmulShape
    | 'batchnorm'
    | 'layernorm'
    | 'relu'
    | 'gelu'
    | 'tanh'
    | 'softmax'
    | 'add' // residual addition
    | 'avgpool'
    | 'embedding'
    | 'shortcut'; // option-A shortcut: subsample + zero-pad channels (no arithmetic)
  /** The weight parameter this layer uses, e.g. `layer1.0.conv1.weight`. */
  weight?: string;
  bias?: string;
  inShape: number[];
  outShape: number[];
  kernel?: [number, number];
  stride?: [number, number];
  groups?: number;
  /** For op 'matmul': [m, k, n] per example (summed over heads by `repeat`). */
  matmulShape?: [number, number, number];
  /** How many times this op runs per example (e.g. attention heads). Default 1. */
  repeat?: number;
}

/** A model family implements this so generic code (metrics, export, surgery) can see its structure. */
export interface ModelFamily<A extends ArchSpec = ArchSpec> {
  family: string;
  /** Layers for one example of the given input shape (no batch dimension). */
  traceLayers(arch: A, inputShape: number[]): LayerSpec[];
  /** Groups, blocks, activations and surgery for structured pruning (see structure.ts); absent = unstructured only. */
  structure?: ModelStructure<A>;
  /** A freshly initialised model of this arch (used to rebuild a saved, possibly surgered, model from its arch metadata). */
  create?(arch: A, options?: { seed?: number }): Model<A>;
}
