import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SeededRng, yieldToEventLoop } from '@prunebench/engine';
import {
  BertTokenizer,
  GLUE_TASKS,
  encodeGlueExamples,
  loadVocab,
  readGlueTask,
  resolveGlueTask,
  type EncodedGlueExamples,
  type GlueExample,
  type GlueTaskName,
} from '@prunebench/data';
import { accuracy, argmax, f1Score, matthewsCorrelation } from '@prunebench/metrics';
import {
  BERT_UNCASED_VOCAB_SIZE,
  bertArchFromHuggingFaceConfig,
  bertMiniArch,
  bertTinyArch,
  createBert,
  loadHuggingFaceBert,
  modelFromStateDict,
  readSafetensors,
  saveSafetensors,
  traceLayers,
  type BertArch,
  type Model,
  type TensorMap,
} from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import { hashId } from '../canonical.js';
import { directoryCheckpoints } from '../store.js';
import { modelSizeOf } from '../model-metrics.js';
import { HarnessTrainer } from '../trainer.js';
import type { FineTuneRecipe, LoadedTask, QualityScores, StartingPoint, TaskDefinition, TaskEnvironment, TaskSizing } from './types.js';
import { checkSizingFits, countByClass } from './sizing.js';

/** Fixed seed for the data splits and subsets: every run of a task sees the same examples. */
export const GLUE_DATA_SEED = 0;

/**
 * Tokens per example (special tokens included). SST-2 and CoLA sentences are short (64 covers ≥ 99 % of them);
 * MRPC and RTE are sentence pairs (128, the usual GLUE setting, truncating the longer text first). Training and
 * evaluation batches are trimmed to their longest real sequence (padding is masked, so logits are the same);
 * FLOPs and latency are measured at this full length.
 */
export const GLUE_MAX_SEQ_LENGTH: Readonly<Record<GlueTaskName, number>> = { sst2: 64, cola: 64, mrpc: 128, rte: 128 };

export type BertSize = 'bert-tiny' | 'bert-mini';
const ARCHS: Record<BertSize, (numLabels: number, vocabSize: number) => BertArch> = { 'bert-tiny': bertTinyArch, 'bert-mini': bertMiniArch };

/**
 * Fine-tuning after pruning, the same for every method: AdamW (β 0.9/0.999, ε 1e-6), lr 2e-4 with 10 % linear
 * warm-up then linear decay over each train call, weight decay 0.01 (weights and tables), batch 32.
 */
export const GLUE_FINE_TUNE_RECIPE: FineTuneRecipe = {
  optimizer: 'adamw', momentum: 0, learningRate: 2e-4, schedule: 'linear', warmupFraction: 0.1, weightDecay: 0.01,
  batchSize: 32, augment: false, betas: [0.9, 0.999], eps: 1e-6,
};

/** Dense training from scratch (no pretrained weights here): the same optimizer at lr 1e-3. */
export const GLUE_DENSE_TRAINING_RECIPE: FineTuneRecipe = { ...GLUE_FINE_TUNE_RECIPE, learningRate: 1e-3 };

/** Fine-tuning a user's pretrained checkpoint into the task's dense starting point (BERT's usual GLUE setting, lr 1e-4 for small BERTs). */
export const GLUE_CHECKPOINT_FINE_TUNE_RECIPE: FineTuneRecipe = { ...GLUE_FINE_TUNE_RECIPE, learningRate: 1e-4 };

/**
 * Examples of dense training from scratch per task: about 1/4 epoch of SST-2, 2 epochs of CoLA, MRPC and RTE. BERT-tiny
 * on wasm took 9 (CoLA) to 21 (SST-2) wall-minutes each on a shared 2-core machine (load ~10, 2026-11-24).
 */
export const GLUE_DENSE_EXAMPLES: Readonly<Record<GlueTaskName, number>> = { sst2: 16_000, cola: 16_000, mrpc: 7_000, rte: 5_000 };

/** Default sizing: all training examples, a validation split carved from train, the whole dev split as the test split. */
export const GLUE_DEFAULT_SIZING: Readonly<Record<GlueTaskName, TaskSizing>> = {
  sst2: { trainPerClass: 0, valSize: 1000, testSize: 0, evalBatchSize: 128 },
  cola: { trainPerClass: 0, valSize: 500, testSize: 0, evalBatchSize: 128 },
  mrpc: { trainPerClass: 0, valSize: 300, testSize: 0, evalBatchSize: 64 },
  rte: { trainPerClass: 0, valSize: 200, testSize: 0, evalBatchSize: 64 },
};

/** Environment variable naming a folder with Hugging Face checkpoints `bert-tiny/` and/or `bert-mini/` (config.json + weights). */
export const BERT_CHECKPOINTS_ENV = 'PRUNEBENCH_BERT_CHECKPOINTS';

const QUALITY_NAME: Record<GlueTaskName, string> = { sst2: 'accuracy', cola: 'mcc', mrpc: 'f1', rte: 'accuracy' };

/** Overrides for small test tasks (the registered tasks use none). */
export interface GlueBertTaskOverrides {
  id?: string;
  /** The model for (numLabels, vocabSize); default the size's BERT. */
  arch?: (numLabels: number, vocabSize: number) => BertArch;
  denseExamples?: number;
  denseRecipe?: FineTuneRecipe;
  maxSeqLength?: number;
  /** Check the official row counts of local GLUE copies (default true; false for synthetic files). */
  checkRowCounts?: boolean;
}

export function glueBertTask(name: GlueTaskName, size: BertSize, overrides: GlueBertTaskOverrides = {}): TaskDefinition {
  const id = overrides.id ?? `glue-${name}-${size}`;
  const info = GLUE_TASKS[name];
  const seq = overrides.maxSeqLength ?? GLUE_MAX_SEQ_LENGTH[name];
  const startingPoint: StartingPoint = {
    kind: 'dense-training', recipe: overrides.denseRecipe ?? GLUE_DENSE_TRAINING_RECIPE, examples: overrides.denseExamples ?? GLUE_DENSE_EXAMPLES[name], seed: 0,
  };
  const setup: GlueTaskSetup = { id, name, size, seq, arch: overrides.arch ?? ARCHS[size], checkRowCounts: overrides.checkRowCounts ?? true };
  // wasm, 2 cores, BERT-tiny at seq 64 measured (~47 examples/s training, ~180 forward at full length); longer
  // sequences and BERT-mini scaled by MACs. Batches trimmed to their longest sequence usually run faster.
  const scale = (64 / seq) * (size === 'bert-mini' ? 1 / 6 : 1);
  return {
    id,
    description: `GLUE ${info.folder} (${info.title}), ${size}, ${QUALITY_NAME[name]} on the dev split, seq ${seq}; start: dense training ` +
      `from scratch (cached), or fine-tuning of $${BERT_CHECKPOINTS_ENV}/${size} when given`,
    dataset: `glue-${name}`,
    model: size,
    qualityName: QUALITY_NAME[name],
    recipe: GLUE_FINE_TUNE_RECIPE,
    defaultSizing: GLUE_DEFAULT_SIZING[name],
    startingPoint,
    throughputHint: { backend: 'wasm', trainPerSecond: 47 * scale, evalPerSecond: 180 * scale },
    // Full-length sequences: token ids drawn from the ordinary-word part of the vocabulary, no padding, one segment.
    latencyInputs: [
      { name: 'input_ids', dtype: 'int64', shape: [seq], range: [1000, 30_000] },
      { name: 'attention_mask', dtype: 'int64', shape: [seq], fill: 1 },
      { name: 'token_type_ids', dtype: 'int64', shape: [seq], fill: 0 },
    ],
    load: (sizing, env) => loadGlueBertTask(setup, startingPoint as Extract<StartingPoint, { kind: 'dense-training' }>, sizing, env),
    trainExamples: (sizing) => (sizing.trainPerClass > 0 ? info.numLabels * sizing.trainPerClass : info.rows.train - sizing.valSize),
    modelSize: () => {
      const arch = { ...setup.arch(info.numLabels, BERT_UNCASED_VOCAB_SIZE), seqLength: seq };
      return modelSizeOf(createBert(arch, { seed: 0 }), bertPrunableNames, (model) => traceLayers(model.arch, [seq]));
    },
  };
}

/** The vocabulary file: `<dir>/bert-base-uncased/vocab.txt` or `<dir>/vocab.txt` (dir: env.vocabDir, else PRUNEBENCH_VOCAB). */
export function resolveBertVocab(vocabDir: string | undefined): string {
  const dir = vocabDir ?? process.env.PRUNEBENCH_VOCAB;
  if (!dir) throw new Error('BERT tasks need the WordPiece vocabulary: set PRUNEBENCH_VOCAB to a folder holding bert-base-uncased/vocab.txt');
  for (const file of [join(dir, 'bert-base-uncased', 'vocab.txt'), join(dir, 'vocab.txt')]) if (existsSync(file)) return file;
  throw new Error(`no vocab.txt in ${dir} (looked for bert-base-uncased/vocab.txt and vocab.txt)`);
}

/** The examples a task works on: train (subset) / validation (carved from train) / test (the dev split). */
export interface GlueSplits {
  train: GlueExample[];
  val: GlueExample[];
  test: GlueExample[];
}

/** Carves the validation split off train and takes the subsets `sizing` asks for, all from GLUE_DATA_SEED. */
export function splitGlueExamples(train: readonly GlueExample[], dev: readonly GlueExample[], sizing: TaskSizing, numLabels: number): GlueSplits {
  const rng = new SeededRng(GLUE_DATA_SEED);
  if (sizing.valSize >= train.length) throw new Error(`valSize ${sizing.valSize} leaves no training examples (train has ${train.length})`);
  const order = rng.fork('validation').permutation(train.length);
  const val = Array.from(order.subarray(0, sizing.valSize), (i) => train[i]);
  let rest = Array.from(order.subarray(sizing.valSize)).sort((a, b) => a - b).map((i) => train[i]);
  if (sizing.trainPerClass > 0) {
    const shuffled = rng.fork('train-subset').permutation(rest.length);
    const taken = new Array<number>(numLabels).fill(0);
    const keep: number[] = [];
    for (const i of shuffled) {
      const label = rest[i].label!;
      if (taken[label] < sizing.trainPerClass) {
        taken[label]++;
        keep.push(i);
      }
    }
    rest = keep.sort((a, b) => a - b).map((i) => rest[i]);
  }
  let test = [...dev];
  if (sizing.testSize > 0 && sizing.testSize < dev.length) {
    test = Array.from(rng.fork('test-subset').permutation(dev.length).subarray(0, sizing.testSize)).sort((a, b) => a - b).map((i) => dev[i]);
  }
  return { train: rest, val, test };
}

interface GlueTaskSetup {
  id: string;
  name: GlueTaskName;
  size: BertSize;
  seq: number;
  arch: (numLabels: number, vocabSize: number) => BertArch;
  checkRowCounts: boolean;
}

async function loadGlueBertTask(
  setup: GlueTaskSetup, start: Extract<StartingPoint, { kind: 'dense-training' }>, sizing: TaskSizing, env: TaskEnvironment,
): Promise<LoadedTask> {
  const { id, name, size, seq } = setup;
  const info = GLUE_TASKS[name];
  const vocabFile = resolveBertVocab(env.vocabDir);
  const tokenizer = new BertTokenizer(loadVocab(vocabFile));
  const dir = await resolveGlueTask(name, { source: env.glueDir, ...(setup.checkRowCounts ? {} : { expectedRows: false }) });
  const trainRows = readGlueTask(name, 'train', dir);
  const devRows = readGlueTask(name, 'dev', dir);
  const splits = splitGlueExamples(trainRows, devRows, sizing, info.numLabels);
  checkSizingFits(id, sizing, { train: trainRows.length, test: devRows.length, trainByClass: countByClass(splits.train.map((e) => e.label!), info.numLabels) });
  const encode = (examples: GlueExample[]) => encodeGlueExamples(examples, tokenizer, seq);
  const trainSet = encode(splits.train);
  // seqLength: structured methods price heads, neurons and layers at the task's length
  const task = new GlueBertLoadedTask(name, { ...setup.arch(info.numLabels, tokenizer.vocab.size), seqLength: seq }, trainSet, encode(splits.val), encode(splits.test), sizing);
  env.log(`${id}: ${task.trainExamples} training, ${splits.val.length} validation, ${splits.test.length} test (GLUE dev) examples, seq ${seq}`);
  const denseInputs = { vocab: sha256Of(readFileSync(vocabFile)), trainingData: encodedDigest(trainSet) };
  task.startingWeights = await glueStartingWeights(id, size, start, sizing, task, env, denseInputs);
  return task;
}

/**
 * The dense starting point, cached as `<cacheDir>/<task>-<hash>.safetensors` (hash of everything that changes it: recipe,
 * examples, seed, sizing, sequence length, the model's shape, the vocabulary file, the encoded training examples (so the
 * tokenizer, its settings and the data subset) and the checkpoint's files) and resumable through trainer checkpoints in `<task>-<hash>.partial/`:
 * trained from scratch, or, when `$PRUNEBENCH_BERT_CHECKPOINTS/<size>` holds a Hugging Face checkpoint, fine-tuned from it
 * for 3 epochs of the training split.
 */
async function glueStartingWeights(
  id: string, size: BertSize, start: Extract<StartingPoint, { kind: 'dense-training' }>, sizing: TaskSizing, task: GlueBertLoadedTask,
  env: TaskEnvironment, inputs: { vocab: string; trainingData: string },
): Promise<TensorMap> {
  const checkpointRoot = env.bertCheckpointsDir ?? process.env[BERT_CHECKPOINTS_ENV];
  // A root that does not exist is a mistake (a typo would silently train from scratch); one without this size is not.
  if (checkpointRoot && !existsSync(checkpointRoot)) {
    throw new Error(`${BERT_CHECKPOINTS_ENV} (or the task's bertCheckpointsDir) names ${checkpointRoot}, which does not exist`);
  }
  const checkpointDir = checkpointRoot ? join(checkpointRoot, size) : undefined;
  const fromCheckpoint = checkpointDir !== undefined && existsSync(join(checkpointDir, 'config.json'));
  if (checkpointRoot && !fromCheckpoint) env.log(`${id}: ${checkpointRoot} has no ${size}/config.json; training the dense model from scratch`);
  if (fromCheckpoint) {
    const configFile = join(checkpointDir!, 'config.json');
    const arch = bertArchFromHuggingFaceConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile, task.arch.numLabels);
    checkCheckpointSize(arch, task.arch, checkpointDir!);
    // the checkpoint's own positions, token types and eps; the task's sequence length
    task.arch = { ...arch, seqLength: task.seqLength };
  }
  const recipe = fromCheckpoint ? GLUE_CHECKPOINT_FINE_TUNE_RECIPE : start.recipe;
  const examples = fromCheckpoint ? 3 * task.trainExamples : start.examples;
  const key = hashId({
    task: id, recipe, examples, seed: start.seed, trainPerClass: sizing.trainPerClass, valSize: sizing.valSize, seq: task.seqLength,
    arch: task.arch, vocab: inputs.vocab, trainingData: inputs.trainingData,
    ...(fromCheckpoint ? { checkpoint: checkpointFingerprint(checkpointDir!) } : {}),
  });
  const path = join(env.cacheDir, `${id}-${key}.safetensors`);
  if (existsSync(path)) {
    try {
      return await readSafetensors(path);
    } catch (error) {
      const aside = `${path}.corrupt-${Date.now()}`;
      renameSync(path, aside);
      env.log(`${id}: cached dense model ${path} is unreadable (${(error as Error).message}); set aside as ${aside}, training it again`);
    }
  }
  const partialDir = join(env.cacheDir, `${id}-${key}.partial`);
  const model = fromCheckpoint
    ? await loadHuggingFaceBert(checkpointDir!, { numLabels: task.arch.numLabels, seed: start.seed, log: env.log })
    : createBert(task.arch, { seed: start.seed });
  try {
    env.log(`${id}: no cached dense model; ${fromCheckpoint ? `fine-tuning ${checkpointDir}` : 'training from scratch'} for ${examples} examples (cached at ${path})`);
    const trainer = new HarnessTrainer({
      task, recipe, totalExamples: examples, rng: new SeededRng(start.seed).fork('dense-training'),
      chunkExamples: Math.min(task.trainExamples, 2000), checkpoints: directoryCheckpoints(partialDir), signal: env.signal,
      onChunk: (rows) => {
        const last = rows[rows.length - 1];
        env.log(`${id}: dense training ${last.budgetUsed}/${examples} examples, loss ${last.loss.toFixed(4)}, ${last.wallSeconds.toFixed(0)} s`);
      },
    });
    await trainer.train(model, { examples, label: 'dense-training' });
    await saveSafetensors(path, model, { task: id, recipeHash: key });
  } finally {
    model.dispose();
  }
  rmSync(partialDir, { recursive: true, force: true });
  return readSafetensors(path);
}

function checkpointFingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of ['config.json', 'model.safetensors', 'pytorch_model.bin']) {
    const path = join(dir, file);
    if (existsSync(path)) out[file] = sha256Of(readFileSync(path));
  }
  return out;
}

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 of an encoded example set (token ids, segments, masks, labels, length). */
function encodedDigest(set: EncodedGlueExamples): string {
  const hash = createHash('sha256').update(`${set.count}x${set.maxLength}\n`);
  for (const array of [set.inputIds, set.tokenTypeIds, set.attentionMask, set.labels]) hash.update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return hash.digest('hex');
}

function checkCheckpointSize(got: BertArch, expected: BertArch, dir: string): void {
  const describe = (a: BertArch) => `${a.layers.length} layers, hidden ${a.hidden}, ${a.layers[0]?.heads} heads, vocab ${a.vocabSize}`;
  const same = got.hidden === expected.hidden && got.vocabSize === expected.vocabSize && got.layers.length === expected.layers.length
    && got.layers.every((l, i) => l.heads === expected.layers[i].heads && l.intermediate === expected.layers[i].intermediate);
  if (!same) throw new Error(`${dir}: checkpoint is ${describe(got)}; the task's model is ${describe(expected)}`);
}

/** Rows `indices` of an encoded set as BERT inputs, trimmed to the longest real sequence among them. */
export function glueBatch(set: EncodedGlueExamples, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const full = set.maxLength;
  let length = 1;
  for (let k = 0; k < n; k++) {
    const row = indices[k] * full;
    let real = 0;
    for (let j = 0; j < full; j++) real += set.attentionMask[row + j];
    length = Math.max(length, real);
  }
  const take = (source: Int32Array) => {
    const out = new Int32Array(n * length);
    for (let k = 0; k < n; k++) out.set(source.subarray(indices[k] * full, indices[k] * full + length), k * length);
    return tf.tensor2d(out, [n, length], 'int32');
  };
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) labels[k] = set.labels[indices[k]];
  return {
    inputs: { input_ids: take(set.inputIds), attention_mask: take(set.attentionMask), token_type_ids: take(set.tokenTypeIds) },
    labels: tf.tensor1d(labels, 'int32'),
    size: n,
  };
}

export class GlueBertLoadedTask implements LoadedTask {
  startingWeights: TensorMap | null = null;

  constructor(
    readonly name: GlueTaskName,
    public arch: BertArch,
    private readonly trainSet: EncodedGlueExamples,
    private readonly valSet: EncodedGlueExamples,
    private readonly testSet: EncodedGlueExamples,
    private readonly sizing: TaskSizing,
  ) {}

  get trainExamples(): number {
    return this.trainSet.count;
  }

  get seqLength(): number {
    return this.trainSet.maxLength;
  }

  *trainBatches(batchSize: number, rng: SeededRng): Iterator<Batch> {
    const count = this.trainSet.count;
    const dropLast = count >= batchSize;
    for (let epoch = 0; ; epoch++) {
      const order = rng.fork(`epoch-${epoch}`).permutation(count);
      for (let from = 0; from + (dropLast ? batchSize : 1) <= count; from += batchSize) {
        yield glueBatch(this.trainSet, order.subarray(from, Math.min(count, from + batchSize)));
      }
    }
  }

  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    const out: Batch[] = [];
    const stream = this.trainBatches(batchSize, rng);
    while (out.length < count) out.push(stream.next().value as Batch);
    return out;
  }

  evaluationBatches(count: number, batchSize: number): Batch[] {
    const n = Math.min(count, this.valSet.count);
    const out: Batch[] = [];
    for (let from = 0; from < n; from += batchSize) {
      out.push(glueBatch(this.valSet, Array.from({ length: Math.min(batchSize, n - from) }, (_, i) => from + i)));
    }
    return out;
  }

  async evaluate(model: Model, split: 'val' | 'test'): Promise<QualityScores> {
    return this.evaluateWith(async (inputs) => {
      const logits = tf.tidy(() => model.forward(inputs, { training: false }));
      try {
        return await logits.data() as Float32Array;
      } finally {
        logits.dispose();
      }
    }, split);
  }

  async evaluateWith(predict: (inputs: Batch['inputs']) => Promise<Float32Array>, split: 'val' | 'test'): Promise<QualityScores> {
    const set = split === 'val' ? this.valSet : this.testSet;
    const labels = set.labels;
    if (labels.some((l) => l < 0)) throw new Error(`glue-${this.name}: the ${split} split has unlabelled examples`);
    const numLabels = this.arch.numLabels;
    const predicted = new Int32Array(set.count);
    const batchSize = this.sizing.evalBatchSize;
    for (let from = 0; from < set.count; from += batchSize) {
      await yieldToEventLoop();
      const batch = glueBatch(set, Array.from({ length: Math.min(batchSize, set.count - from) }, (_, i) => from + i));
      predicted.set(argmax(await predict(batch.inputs), numLabels), from);
      tf.dispose([...Object.values(batch.inputs as Record<string, tf.Tensor>), batch.labels]);
    }
    return glueQuality(this.name, predicted, labels);
  }

  async startingModel(): Promise<Model> {
    if (!this.startingWeights) throw new Error('task not loaded: no starting weights');
    return modelFromStateDict(this.arch, this.startingWeights);
  }

  /**
   * Every linear weight (the encoder's query/key/value/output/FFN matrices, the pooler, the classifier) and the three
   * embedding tables; never biases or norms. The embeddings are included because with the 30,522-token vocabulary
   * they hold ~91 % of BERT-tiny's parameters (~71 % of BERT-mini's): ShrinkBench's compression (all parameters /
   * nonzero) could not reach 2× from the linear weights alone.
   */
  prunable(model: Model): string[] {
    return bertPrunableNames(model);
  }

  traceLayers(model: Model) {
    return traceLayers(model.arch, [this.seqLength]);
  }

  dispose(): void {
    this.startingWeights = null;
  }
}

/** The task's GLUE metrics: accuracy (SST-2, RTE), MCC (CoLA), F1 with accuracy beside (MRPC). */
export function glueQuality(name: GlueTaskName, predicted: Int32Array, labels: Int32Array): QualityScores {
  const acc = accuracy(predicted, labels);
  if (name === 'cola') return { quality: matthewsCorrelation(predicted, labels), qualityName: 'mcc', mcc: matthewsCorrelation(predicted, labels), accuracy: acc };
  if (name === 'mrpc') return { quality: f1Score(predicted, labels), qualityName: 'f1', f1: f1Score(predicted, labels), accuracy: acc };
  return { quality: acc, qualityName: 'accuracy', accuracy: acc };
}

/** BERT's prunable weights: every linear weight and the embedding tables (see GlueBertLoadedTask.prunable). */
export function bertPrunableNames(model: Model): string[] {
  return [...model.params.keys()].filter((name) => {
    const kind = model.paramKinds.get(name);
    return kind === 'linear' || kind === 'embedding';
  });
}
