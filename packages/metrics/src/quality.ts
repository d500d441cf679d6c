/**
 * Class ids or scores, already on the host: a plain or typed array. Tensors are read by the caller
 * (`await t.data()`): metrics never read synchronously, which GPU backends cannot do in Node.
 */
export type Values = ArrayLike<number>;

/** Logits as row-major values, with the class count given separately. */
export type Logits = Float32Array | ArrayLike<number>;

function toArray(values: Values): ArrayLike<number> {
  return values;
}

/** Row-major logits and the number of classes, checked. */
function logitRows(logits: Logits, numClasses: number | undefined, fn: string): { values: ArrayLike<number>; rows: number; classes: number } {
  if (numClasses === undefined || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${fn}: numClasses (a positive integer) is required with flat logits, got ${numClasses}`);
  }
  if (logits.length % numClasses !== 0) throw new Error(`${fn}: logits length ${logits.length} is not a multiple of numClasses ${numClasses}`);
  return { values: logits, rows: logits.length / numClasses, classes: numClasses };
}

/** NaN logits rank below every number (a diverged model scores as wrong, not as an exception). */
const score = (x: number) => (Number.isNaN(x) ? -Infinity : x);

/** Index of the largest logit in each row; ties go to the lowest index. */
export function argmax(logits: Logits, numClasses?: number): Int32Array {
  const { values, rows, classes } = logitRows(logits, numClasses, 'argmax');
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestScore = score(values[r * classes]);
    for (let c = 1; c < classes; c++) {
      const s = score(values[r * classes + c]);
      if (s > bestScore) {
        best = c;
        bestScore = s;
      }
    }
    out[r] = best;
  }
  return out;
}

/**
 * Fraction of examples whose label is among the k highest logits. Ties are ordered by class index,
 * as in argmax, so top-1 accuracy equals accuracy(argmax(logits), labels).
 */
export function topKAccuracy(logits: Logits, labels: Values, k: number, numClasses?: number): number {
  const { values, rows, classes } = logitRows(logits, numClasses, 'topKAccuracy');
  if (!Number.isInteger(k) || k < 1 || k > classes) throw new Error(`topKAccuracy: k must be an integer in [1, ${classes}], got ${k}`);
  const labelValues = toArray(labels);
  if (labelValues.length !== rows) throw new Error(`topKAccuracy: ${labelValues.length} labels for ${rows} rows of logits`);
  if (rows === 0) throw new Error('topKAccuracy: no examples');
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const label = labelValues[r];
    if (!Number.isInteger(label) || label < 0 || label >= classes) throw new Error(`topKAccuracy: label ${label} at index ${r} is not a class id in [0, ${classes})`);
    const target = score(values[r * classes + label]);
    let rank = 0;
    for (let c = 0; c < classes && rank < k; c++) {
      const s = score(values[r * classes + c]);
      if (s > target || (s === target && c < label)) rank++;
    }
    if (rank < k) correct++;
  }
  return correct / rows;
}

function pairs(pred: Values, labels: Values, fn: string): { p: ArrayLike<number>; y: ArrayLike<number> } {
  const p = toArray(pred);
  const y = toArray(labels);
  if (p.length !== y.length) throw new Error(`${fn}: ${p.length} predictions for ${y.length} labels`);
  if (p.length === 0) throw new Error(`${fn}: no examples`);
  return { p, y };
}

/** Fraction of predictions equal to their labels. */
export function accuracy(pred: Values, labels: Values): number {
  const { p, y } = pairs(pred, labels, 'accuracy');
  let correct = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === y[i]) correct++;
  return correct / p.length;
}

interface Confusion {
  tp: number;
  tn: number;
  fp: number;
  fn: number;
}

/** Binary confusion counts; every value must be 0 or 1. */
function binaryConfusion(pred: Values, labels: Values, fnName: string): Confusion {
  const { p, y } = pairs(pred, labels, fnName);
  const c: Confusion = { tp: 0, tn: 0, fp: 0, fn: 0 };
  for (let i = 0; i < p.length; i++) {
    if ((p[i] !== 0 && p[i] !== 1) || (y[i] !== 0 && y[i] !== 1)) {
      throw new Error(`${fnName}: binary 0/1 values expected, got prediction ${p[i]} and label ${y[i]} at index ${i}`);
    }
    if (p[i] === 1 && y[i] === 1) c.tp++;
    else if (p[i] === 1) c.fp++;
    else if (y[i] === 1) c.fn++;
    else c.tn++;
  }
  return c;
}

/** Matthews correlation coefficient of binary predictions (CoLA's metric); 0 when undefined, as in scikit-learn. */
export function matthewsCorrelation(pred: Values, labels: Values): number {
  const { tp, tn, fp, fn } = binaryConfusion(pred, labels, 'matthewsCorrelation');
  // two square roots of exact integer products (a single product of four counts can exceed 2^53)
  const denominator = Math.sqrt((tp + fp) * (tp + fn)) * Math.sqrt((tn + fp) * (tn + fn));
  return denominator === 0 ? 0 : (tp * tn - fp * fn) / denominator;
}

/** F1 of the positive class (MRPC's metric): 2·TP / (2·TP + FP + FN); 0 when there are no positives at all. */
export function f1Score(pred: Values, labels: Values, positive: 0 | 1 = 1): number {
  const c = binaryConfusion(pred, labels, 'f1Score');
  const { tp, fp, fn } = positive === 1 ? c : { tp: c.tn, fp: c.fn, fn: c.fp };
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}
