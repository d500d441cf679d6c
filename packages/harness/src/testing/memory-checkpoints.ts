import type { TensorFileContents } from '../tensor-file.js';
import type { TrainerCheckpoints } from '../trainer.js';

/** TrainerCheckpoints in memory, counting the partial checkpoints written. */
export function memoryCheckpoints(): TrainerCheckpoints & { partials: number } {
  const partial = new Map<number, TensorFileContents>();
  const finished = new Map<number, TensorFileContents>();
  return {
    partials: 0,
    readFinished: (call) => finished.get(call) ?? null,
    readPartial: (call) => partial.get(call) ?? null,
    writeFinished(call, contents) { finished.set(call, contents); partial.delete(call); },
    writePartial(call, contents) { this.partials++; partial.set(call, contents); },
  };
}
