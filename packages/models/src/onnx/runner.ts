/**
 * Runs exported ONNX models with onnxruntime-node (used for accuracy checks and latency measurements).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type OnnxProvider = 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';
const PROVIDERS: readonly OnnxProvider[] = ['cpu', 'webgpu', 'cuda', 'tensorrt'];

export interface OnnxRunnerOptions {
  /** Execution provider. Default 'cpu'. */
  provider?: OnnxProvider;
  /** intraOpNumThreads. Default 2 (the CPU machines have 2 cores); recorded in `info`. */
  threads?: number;
}

export interface OnnxRunnerInfo {
  provider: OnnxProvider;
  threads: number;
  ortVersion: string;
}

/** Directory of the native binding, where downloaded provider libraries (CUDA, TensorRT) would sit. */
function bindingDirectory(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const dir = join(dirname(entry), '..', 'bin');
    const napi = readdirSync(dir).find((d) => d.startsWith('napi-v'));
    return napi ? join(dir, napi, process.platform, process.arch) : undefined;
  } catch {
    return undefined;
  }
}

/** Throws a clear Error when `provider` cannot run in this onnxruntime-node installation. */
export function checkOnnxProvider(provider: OnnxProvider): void {
  if (!PROVIDERS.includes(provider)) {
    throw new Error(`OnnxRunner: provider must be one of ${PROVIDERS.join(', ')}, got ${JSON.stringify(provider)}`);
  }
  const backend = ort.listSupportedBackends().find((b) => b.name === provider);
  if (!backend) {
    throw new Error(`OnnxRunner: provider ${provider} is not supported by onnxruntime-node ${ort.env.versions.node} on ${process.platform}-${process.arch}`);
  }
  if (backend.bundled) return;
  // Non-bundled providers need libraries onnxruntime-node downloads at install time (ONNXRUNTIME_NODE_INSTALL=cuda12).
  const dir = bindingDirectory();
  const lib = `libonnxruntime_providers_${provider}.so`;
  if (!dir || !existsSync(join(dir, lib))) {
    throw new Error(
      `OnnxRunner: provider ${provider} is not installed (${lib} missing${dir ? ` in ${dir}` : ''}); ` +
        'reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12',
    );
  }
}

export class OnnxRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: OnnxRunnerInfo,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  /** Loads ONNX bytes into an InferenceSession (graph optimisation 'all', one inter-op thread). */
  static async create(bytes: Uint8Array, opts: OnnxRunnerOptions = {}): Promise<OnnxRunner> {
    const provider = opts.provider ?? 'cpu';
    const threads = opts.threads ?? 2;
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`OnnxRunner: threads must be a positive integer, got ${threads}`);
    checkOnnxProvider(provider);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
      });
    } catch (err) {
      throw new Error(`OnnxRunner: onnxruntime could not load the model on provider ${provider}: ${(err as Error).message}`);
    }
    if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
      await session.release();
      throw new Error(`OnnxRunner: expected a model with one input, got inputs [${session.inputNames.join(', ')}]`);
    }
    const info: OnnxRunnerInfo = { provider, threads, ortVersion: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown' };
    return new OnnxRunner(session, info, session.inputNames[0], session.outputNames[0]);
  }

  /** Runs one batch; `dims` is the input's shape (e.g. [n, 3, 32, 32]). Returns the first output's values. */
  async run(input: Float32Array, dims: number[]): Promise<Float32Array> {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== input.length) {
      throw new Error(`OnnxRunner.run: input has ${input.length} values, dims [${dims.join(', ')}] need ${count}`);
    }
    const feeds = { [this.inputName]: new ort.Tensor('float32', input, dims) };
    const results = await this.session.run(feeds);
    const output = results[this.outputName];
    if (output.type !== 'float32') throw new Error(`OnnxRunner.run: output ${this.outputName} is ${output.type}, expected float32`);
    return output.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** NHWC → NCHW for `n` images of h×w×c (prunebench is NHWC inside; the ONNX graph takes NCHW). */
export function nhwcToNchw(data: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const plane = h * w;
  if (data.length !== n * plane * c) {
    throw new Error(`nhwcToNchw: ${data.length} values do not fill [${n}, ${h}, ${w}, ${c}]`);
  }
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) {
    const base = b * plane * c;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) out[base + ch * plane + p] = data[base + p * c + ch];
    }
  }
  return out;
}
