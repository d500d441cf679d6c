import type { TaskSizing } from './types.js';

/** A suite's task sizing asks for more examples than the data holds (found when the task is loaded, before training). */
export class TaskSizingError extends Error {
  constructor(readonly task: string, readonly problems: string[]) {
    super(`${task}: the sizing does not fit the data: ${problems.join('; ')}`);
    this.name = 'TaskSizingError';
  }
}

/**
 * Checks a sizing against what the data holds, so a too-large request is an error naming the field instead of a
 * silent clamp (which would run something else under the requested run id). `trainByClass`: examples per class
 * left for training after the validation split (checked when trainPerClass is set).
 */
export function checkSizingFits(task: string, sizing: TaskSizing, data: { train: number; test: number; trainByClass?: readonly number[] }): void {
  const problems: string[] = [];
  if (sizing.valSize >= data.train) problems.push(`valSize ${sizing.valSize} leaves no training examples (the training split has ${data.train})`);
  if (sizing.testSize > data.test) problems.push(`testSize ${sizing.testSize} is larger than the test split (${data.test} examples; 0 = all of it)`);
  if (sizing.trainPerClass > 0 && data.trainByClass) {
    const smallest = Math.min(...data.trainByClass);
    if (sizing.trainPerClass > smallest) {
      problems.push(`trainPerClass ${sizing.trainPerClass} is more than the smallest class holds after the validation split (${smallest})`);
    }
  }
  if (problems.length > 0) throw new TaskSizingError(task, problems);
}

/** Examples per class among `labels` (classes 0 … numClasses-1). */
export function countByClass(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}
