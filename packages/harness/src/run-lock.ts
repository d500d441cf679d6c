import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { LOCK_FILE } from './run-files.js';

/** Who holds a run: written into the run folder's `lock.json` when the lock is taken. */
export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

/** A lock not refreshed for this long is stale even when its owner runs on another machine. */
export const LOCK_STALE_MS = 10 * 60_000;
/** How often a held lock's time stamp is refreshed. */
export const LOCK_REFRESH_MS = 30_000;
let lockCounter = 0;

export interface HeldLock {
  readonly owner: LockOwner;
  release(): void;
}

export type LockAttempt = { held: true; lock: HeldLock; tookOverFrom?: LockOwner } | { held: false; owner: LockOwner | null };

/**
 * Takes the lock of one run folder: `lock.json` is created exclusively, so of two processes (or machines sharing the
 * store) only one works on a run. A lock is stale, and taken over, when its owner is a dead process on this host or
 * when it has not been refreshed for LOCK_STALE_MS (its owner is on another host and stopped, or the file is unreadable).
 */
export function tryLockRun(runDir: string, now: () => number = Date.now): LockAttempt {
  const path = join(runDir, LOCK_FILE);
  mkdirSync(runDir, { recursive: true });
  const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date(now()).toISOString() };
  if (createExclusive(path, owner)) return { held: true, lock: heldLock(path, owner) };
  const current = readLock(path);
  if (!isStale(path, current, now)) return { held: false, owner: current };
  // Take over by renaming the stale file away first: of several processes doing this, only one rename succeeds.
  const aside = `${path}.stale-${process.pid}-${now()}`;
  try {
    renameSync(path, aside);
  } catch {
    return { held: false, owner: readLock(path) };
  }
  const moved = readLock(aside);
  if (current && !(moved && sameOwner(moved, current))) {
    // Another process took the lock over between our check and our rename: give its lock back (link fails if taken).
    try {
      linkSync(aside, path);
    } catch {
      // someone holds it again
    }
    rmSync(aside, { force: true });
    return { held: false, owner: readLock(path) };
  }
  rmSync(aside, { force: true });
  if (!createExclusive(path, owner)) return { held: false, owner: readLock(path) };
  return { held: true, lock: heldLock(path, owner), ...(current ? { tookOverFrom: current } : {}) };
}

export function readLock(path: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

export function describeLockOwner(owner: LockOwner | null): string {
  return owner ? `process ${owner.pid} on ${owner.host} (since ${owner.startedAt})` : 'another process';
}

function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt;
}

function isStale(path: string, owner: LockOwner | null, now: () => number): boolean {
  let age: number;
  try {
    age = now() - statSync(path).mtimeMs;
  } catch {
    return true; // released meanwhile
  }
  if (owner && owner.host === hostname()) return !processAlive(owner.pid);
  return age > LOCK_STALE_MS;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates `path` holding `owner` only if it does not exist; written aside and hard-linked, so it is never seen empty. */
function createExclusive(path: string, owner: LockOwner): boolean {
  const temp = join(dirname(path), `.${LOCK_FILE}.${process.pid}.${lockCounter++}.tmp`);
  writeFileSync(temp, `${JSON.stringify(owner)}\n`);
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT: the holder of the lock cleared temporaries of the run folder meanwhile; it is held either way
    if (code === 'EEXIST' || code === 'ENOENT') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

function heldLock(path: string, owner: LockOwner): HeldLock {
  const refresh = setInterval(() => {
    try {
      const t = new Date();
      utimesSync(path, t, t);
    } catch {
      // the folder is gone or unwritable; the run itself will report it
    }
  }, LOCK_REFRESH_MS);
  refresh.unref();
  let released = false;
  return {
    owner,
    release: () => {
      if (released) return;
      released = true;
      clearInterval(refresh);
      // Only our own lock is removed (a stale-lock takeover by another process may have replaced it).
      const current = readLock(path);
      if (current && sameOwner(current, owner)) {
        rmSync(path, { force: true });
      }
    },
  };
}
