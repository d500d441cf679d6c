/**
 * A problem with a dataset file or source: missing, truncated, corrupt, or failing a checksum.
 * `file` names the offending file (or source) so the message and the caller can both point at it.
 */
export class DatasetError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}
