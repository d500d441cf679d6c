/** The four GLUE tasks prunebench uses, their file layouts (quirks included), labels, metrics and sizes. */

export type GlueTaskName = 'sst2' | 'cola' | 'mrpc' | 'rte';
export type GlueSplit = 'train' | 'dev' | 'test';
export type GlueMetricName = 'accuracy' | 'mcc' | 'f1';

export const GLUE_TASK_NAMES: readonly GlueTaskName[] = ['sst2', 'cola', 'mrpc', 'rte'];
export const GLUE_SPLITS: readonly GlueSplit[] = ['train', 'dev', 'test'];

/** How one split's TSV is laid out. Column indices are 0-based. */
export interface GlueFileLayout {
  /** The exact header fields (after a UTF-8 BOM is dropped), or null when the file has no header (CoLA train/dev). */
  header: readonly string[] | null;
  columns: number;
  textA: number;
  textB?: number;
  /** Column of the label; absent for the unlabelled test splits. */
  label?: number;
}

export interface GlueTaskInfo {
  name: GlueTaskName;
  /** Folder name in the GLUE layout (and in the official zip). */
  folder: string;
  title: string;
  numLabels: number;
  /**
   * Label names by id. Numeric-label files (SST-2, CoLA, MRPC) hold the id itself; RTE holds the name
   * (entailment → 0, not_entailment → 1, GLUE's order).
   */
  labelNames: readonly string[];
  /** Whether the file writes the label as its name (RTE) rather than as its id. */
  labelsAreNames: boolean;
  /** GLUE's metrics for the task; the first is the headline metric. */
  metrics: readonly GlueMetricName[];
  /** Names of the text fields: one for single-sentence tasks, two for pairs. */
  textFields: readonly string[];
  /** Rows (examples, header excluded) in the official files. */
  rows: Record<GlueSplit, number>;
  layouts: Record<GlueSplit, GlueFileLayout>;
}

export const GLUE_TASKS: Readonly<Record<GlueTaskName, GlueTaskInfo>> = {
  sst2: {
    name: 'sst2',
    folder: 'SST-2',
    title: 'Stanford Sentiment Treebank (binary)',
    numLabels: 2,
    labelNames: ['negative', 'positive'],
    labelsAreNames: false,
    metrics: ['accuracy'],
    textFields: ['sentence'],
    rows: { train: 67_349, dev: 872, test: 1_821 },
    layouts: {
      train: { header: ['sentence', 'label'], columns: 2, textA: 0, label: 1 },
      dev: { header: ['sentence', 'label'], columns: 2, textA: 0, label: 1 },
      test: { header: ['index', 'sentence'], columns: 2, textA: 1 },
    },
  },
  cola: {
    name: 'cola',
    folder: 'CoLA',
    title: 'Corpus of Linguistic Acceptability',
    numLabels: 2,
    labelNames: ['unacceptable', 'acceptable'],
    labelsAreNames: false,
    metrics: ['mcc'],
    textFields: ['sentence'],
    // The test split (1,063 rows) is in the official CoLA.zip but may be absent from local copies.
    rows: { train: 8_551, dev: 527, test: 1_063 },
    layouts: {
      // No header; columns: source code, label, the original author's acceptability mark, sentence.
      train: { header: null, columns: 4, textA: 3, label: 1 },
      dev: { header: null, columns: 4, textA: 3, label: 1 },
      test: { header: ['index', 'sentence'], columns: 2, textA: 1 },
    },
  },
  mrpc: {
    name: 'mrpc',
    folder: 'MRPC',
    title: 'Microsoft Research Paraphrase Corpus',
    numLabels: 2,
    labelNames: ['not_equivalent', 'equivalent'],
    labelsAreNames: false,
    metrics: ['f1', 'accuracy'],
    textFields: ['sentence1', 'sentence2'],
    rows: { train: 3_668, dev: 408, test: 1_725 },
    layouts: {
      train: { header: ['Quality', '#1 ID', '#2 ID', '#1 String', '#2 String'], columns: 5, textA: 3, textB: 4, label: 0 },
      dev: { header: ['Quality', '#1 ID', '#2 ID', '#1 String', '#2 String'], columns: 5, textA: 3, textB: 4, label: 0 },
      test: { header: ['index', '#1 ID', '#2 ID', '#1 String', '#2 String'], columns: 5, textA: 3, textB: 4 },
    },
  },
  rte: {
    name: 'rte',
    folder: 'RTE',
    title: 'Recognizing Textual Entailment',
    numLabels: 2,
    labelNames: ['entailment', 'not_entailment'],
    labelsAreNames: true,
    metrics: ['accuracy'],
    textFields: ['sentence1', 'sentence2'],
    rows: { train: 2_490, dev: 277, test: 3_000 },
    layouts: {
      train: { header: ['index', 'sentence1', 'sentence2', 'label'], columns: 4, textA: 1, textB: 2, label: 3 },
      dev: { header: ['index', 'sentence1', 'sentence2', 'label'], columns: 4, textA: 1, textB: 2, label: 3 },
      test: { header: ['index', 'sentence1', 'sentence2'], columns: 3, textA: 1, textB: 2 },
    },
  },
};

export function glueTaskInfo(task: string): GlueTaskInfo {
  const info = (GLUE_TASKS as Record<string, GlueTaskInfo | undefined>)[task];
  if (!info) throw new RangeError(`unknown GLUE task "${task}" (known: ${GLUE_TASK_NAMES.join(', ')})`);
  return info;
}

export function glueSplitFile(split: GlueSplit): string {
  return `${split}.tsv`;
}
