import { writeFileAtomic } from '@prunebench/engine';
import type * as tf from '@tensorflow/tfjs';
import type { Model } from '../types.js';
import { readModelValues, type ParamValues } from './tensor-data.js';

export interface OnnxExportOptions {
  /** ai.onnx opset version. Default 17. */
  opset?: number;
  /** 'dynamic' (default): symbolic batch dimension `N`; a number fixes it. */
  batch?: 'dynamic' | number;
  /**
   * Fold batch norm (running statistics) into the preceding convolution's weight and bias. Default true:
   * fewer nodes, lower latency, same function up to float rounding.
   */
  foldBatchNorm?: boolean;
  /**
   * 0/1 masks by parameter name (unstructured pruning), multiplied into the weights before export.
   * The graph stays dense: pruned weights are stored as zeros.
   */
  masks?: Map<string, tf.Tensor>;
  /** Height and width of image inputs (square). Default 32 (CIFAR). */
  imageSize?: number;
}

/** Resolved options an exporter receives. */
export interface ResolvedOnnxExportOptions {
  opset: number;
  batch: 'dynamic' | number;
  foldBatchNorm: boolean;
  masks: Map<string, tf.Tensor>;
  imageSize: number;
  /** Every parameter and buffer, read back to the host with its mask multiplied in (before the exporter runs). */
  values: ReadonlyMap<string, ParamValues>;
}

/** Turns one model family into an ONNX ModelProto's bytes. */
export type OnnxExporter = (model: Model, opts: ResolvedOnnxExportOptions) => Uint8Array;

const exporters = new Map<string, OnnxExporter>();

/** Registers (or replaces) the ONNX exporter of a model family. */
export function registerOnnxExporter(family: string, exporter: OnnxExporter): void {
  if (!family) throw new Error('registerOnnxExporter: family must be a non-empty string');
  exporters.set(family, exporter);
}

export function onnxExporterFamilies(): string[] {
  return [...exporters.keys()].sort();
}

async function resolveOptions(model: Model, opts: OnnxExportOptions): Promise<ResolvedOnnxExportOptions> {
  const opset = opts.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 13 || opset > 23) {
    throw new Error(`exportOnnx: opset must be an integer in [13, 23], got ${opts.opset}`);
  }
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic' && !(Number.isInteger(batch) && batch >= 1)) {
    throw new Error(`exportOnnx: batch must be 'dynamic' or a positive integer, got ${String(batch)}`);
  }
  const imageSize = opts.imageSize ?? 32;
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new Error(`exportOnnx: imageSize must be a positive integer, got ${opts.imageSize}`);
  const masks = opts.masks ?? new Map<string, tf.Tensor>();
  return { opset, batch, imageSize, foldBatchNorm: opts.foldBatchNorm ?? true, masks, values: await readModelValues(model, masks, 'exportOnnx') };
}

/** Serialises a model to ONNX bytes through its family's registered exporter. */
export async function exportOnnx(model: Model, opts: OnnxExportOptions = {}): Promise<Uint8Array> {
  const family = model.arch?.family;
  const exporter = typeof family === 'string' ? exporters.get(family) : undefined;
  if (!exporter) {
    throw new Error(
      `exportOnnx: no ONNX exporter for model family ${JSON.stringify(family)} (registered: ${onnxExporterFamilies().join(', ') || 'none'})`,
    );
  }
  return exporter(model, await resolveOptions(model, opts));
}

/** Writes ONNX bytes atomically (the engine's fsyncing writer: a temporary file beside the target, then rename). */
export function saveOnnx(path: string, bytes: Uint8Array): void {
  try {
    writeFileAtomic(path, bytes);
  } catch (err) {
    throw new Error(`saveOnnx: cannot write ${path}: ${(err as Error).message}`);
  }
}
