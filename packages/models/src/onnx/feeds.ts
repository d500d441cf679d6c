/**
 * Model inputs as prunebench holds them (tfjs tensors: NHWC images, or BERT's int32 token tensors by name) turned
 * into ONNX Runtime feeds for the exported graphs (float32 NCHW `input`; int64 `input_ids`, `attention_mask`,
 * `token_type_ids`), and a session that returns a graph's first output (the logits).
 */
import type * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { nhwcToNchw } from './runner.js';

export type OnnxFeed = Record<string, ort.Tensor>;

/** Feeds for one batch: an NHWC float image tensor → `input` NCHW; a record of integer tensors → int64 tensors by name. */
export async function onnxFeed(inputs: tf.Tensor | Record<string, tf.Tensor>): Promise<OnnxFeed> {
  if (!isTensorRecord(inputs)) {
    if (inputs.rank !== 4) throw new Error(`onnxFeed: image input must be NHWC rank 4, got shape [${inputs.shape}]`);
    const [n, h, w, c] = inputs.shape;
    return { input: new ort.Tensor('float32', nhwcToNchw((await inputs.data()) as Float32Array, n, h, w, c), [n, c, h, w]) };
  }
  const feed: OnnxFeed = {};
  for (const [name, tensor] of Object.entries(inputs)) {
    const values = await tensor.data();
    feed[name] = new ort.Tensor('int64', BigInt64Array.from(values as Int32Array, (v) => BigInt(v)), [...tensor.shape]);
  }
  return feed;
}

function isTensorRecord(inputs: tf.Tensor | Record<string, tf.Tensor>): inputs is Record<string, tf.Tensor> {
  return !('shape' in inputs && 'dtype' in inputs && typeof (inputs as tf.Tensor).dataSync === 'function');
}

/** An ORT cpu session (graph optimisation 'all') over ONNX bytes that returns the first output of a run. */
export class OnnxLogitsSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(bytes: Uint8Array, threads = 2): Promise<OnnxLogitsSession> {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    });
    return new OnnxLogitsSession(session);
  }

  async run(feed: OnnxFeed): Promise<Float32Array> {
    const out = await this.session.run(feed);
    const first = out[this.session.outputNames[0]];
    if (first.type !== 'float32') throw new Error(`OnnxLogitsSession: output is ${first.type}, expected float32`);
    return first.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
