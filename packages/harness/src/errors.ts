/** Training produced a NaN or infinite loss; the run is recorded as failed. */
export class NonFiniteLossError extends Error {
  constructor(readonly loss: number, readonly where: string) {
    super(`training loss became ${loss} ${where}; the run is stopped (lower the learning rate or check the data)`);
    this.name = 'NonFiniteLossError';
  }
}

/**
 * On resume the method asked for different training than the checkpoint recorded (its code, options or
 * determinism changed). The run's checkpoints are discarded so the next attempt starts from scratch.
 */
export class CheckpointMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointMismatchError';
  }
}

/** A suite file that does not follow the schema; the message names the field (`suite.methods[2].name: ...`). */
export class SuiteValidationError extends Error {
  constructor(readonly problems: string[], readonly file?: string) {
    super(`${file ? `${file}: ` : ''}invalid suite:\n  ${problems.join('\n  ')}`);
    this.name = 'SuiteValidationError';
  }
}

/** The final model does not meet its pruning target. */
export class TargetNotMetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetNotMetError';
  }
}

/**
 * The run was stopped from outside (Ctrl-C, a signal): nothing is recorded for it, so it stays
 * interrupted and the next invocation resumes it from its last checkpoint, exactly as after a hard kill.
 */
export class RunInterruptedError extends Error {
  constructor() {
    super('interrupted; run the same command again to resume from the last checkpoint');
    this.name = 'RunInterruptedError';
  }
}

/** Weights with NaN or infinite values (a corrupt starting point, or training that diverged): the run is failed. */
export class NonFiniteWeightsError extends Error {
  constructor(readonly which: 'starting' | 'final', readonly tensors: string[]) {
    super(`the ${which} weights hold NaN or infinite values in ${tensors.length} tensor(s): ${tensors.slice(0, 5).join(', ')}${tensors.length > 5 ? ', ...' : ''}`);
    this.name = 'NonFiniteWeightsError';
  }
}

/** A metric of the run came out missing, NaN or infinite; such a run is failed, never completed. */
export class NonFiniteMetricError extends Error {
  constructor(defect: string) {
    super(`the run's metrics are not usable: ${defect}`);
    this.name = 'NonFiniteMetricError';
  }
}

/** The run store cannot be written (read-only file system or no permission); named by its code. */
export class StoreNotWritableError extends Error {
  constructor(readonly root: string, readonly code: string, detail: string) {
    super(`run store ${root} is not writable (${code}: ${code === 'EROFS' ? 'read-only file system' : 'permission denied'}; ${detail})`);
    this.name = 'StoreNotWritableError';
  }
}
