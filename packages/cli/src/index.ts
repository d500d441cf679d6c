export { main, MAIN_HELP } from './cli.js';
export { ProgressBar, formatDuration } from './progress.js';
export { UsageError, EXIT_OK, EXIT_RUN_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED, type CliIO } from './usage.js';
export { BUILTIN_METHODS, METHODS } from './methods.js';
export { OPTION_TABLE_BEGIN, OPTION_TABLE_END, methodReadmePath, updateMethodReadmes, withOptionTable } from './method-docs.js';
