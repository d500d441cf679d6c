/**
 * One macrotask turn: lets signal handlers (Ctrl-C), timers and I/O callbacks run between steps of a long
 * computation whose awaits would otherwise resolve as microtasks only.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
