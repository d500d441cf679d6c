import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';

/**
 * Replaces the folder `target` by `fresh` with renames only, so a reader never sees a half-written cache; the old
 * copy is restored if the second rename fails.
 */
export async function swapInto(fresh: string, target: string): Promise<void> {
  const retired = `${target}.old-${process.pid}-${Date.now()}`;
  const hadOld = existsSync(target);
  if (hadOld) await rename(target, retired);
  try {
    await rename(fresh, target);
  } catch (err) {
    if (hadOld) await rename(retired, target);
    throw err;
  }
  if (hadOld) await rm(retired, { recursive: true, force: true });
}
