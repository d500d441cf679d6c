/**
 * The layout of a run folder in a store (`<store>/<run id>/`): the one place its file names are spelled.
 * The store, merge, the lock, the report's reader and export all use these.
 */

/** The run's canonical description (written before it starts). */
export const DESCRIPTION_FILE = 'description.json';
/** The result: status, metrics, environment; its presence marks a finished (completed or failed) run. */
export const RECORD_FILE = 'record.json';
/** One JSON line per chunk of training. */
export const LOG_FILE = 'log.jsonl';
/** The final weights, masks applied (`prunebench export --run`, `prunebench eval --run`). */
export const FINAL_MODEL_FILE = 'model.safetensors';
/** Trainer checkpoints of an unfinished run (removed when it completes). */
export const CHECKPOINT_DIR = 'checkpoint';
/** The per-run lock of the process working on it. */
export const LOCK_FILE = 'lock.json';

/** The files a finished run keeps, in the order merge copies them (the record last). */
export const FINISHED_RUN_FILES = [DESCRIPTION_FILE, LOG_FILE, FINAL_MODEL_FILE, RECORD_FILE] as const;
