import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Lets `build` fill a fresh folder beside `finalDir`, then swaps it in for `finalDir` with two renames
 * (old report aside, new one in place) and removes the old one. When `build` fails the old folder is untouched.
 * Build and set-aside folders that dead processes left beside `finalDir` are removed first.
 */
export async function replaceFolder<T>(finalDir: string, build: (buildDir: string) => Promise<T>): Promise<T> {
  if (existsSync(finalDir) && !statSync(finalDir).isDirectory()) throw new Error(`report output ${finalDir} is a file, not a folder`);
  removeAbandonedFolders(finalDir);
  const buildDir = siblingName(finalDir, 'tmp');
  mkdirSync(buildDir, { recursive: true });
  let result: T;
  try {
    result = await build(buildDir);
  } catch (error) {
    rmSync(buildDir, { recursive: true, force: true });
    throw error;
  }
  const aside = siblingName(finalDir, 'old');
  const hadOld = existsSync(finalDir);
  if (hadOld) renameSync(finalDir, aside);
  try {
    renameSync(buildDir, finalDir);
  } catch (error) {
    if (hadOld) renameSync(aside, finalDir);
    rmSync(buildDir, { recursive: true, force: true });
    throw error;
  }
  rmSync(aside, { recursive: true, force: true });
  return result;
}

function siblingName(finalDir: string, kind: 'tmp' | 'old'): string {
  return `${finalDir}.${kind}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

function removeAbandonedFolders(finalDir: string): void {
  const parent = dirname(finalDir);
  if (!existsSync(parent)) return;
  const pattern = new RegExp(`^${escapeRegExp(basename(finalDir))}\\.(tmp|old)-(\\d+)-[0-9a-z]+$`);
  for (const name of readdirSync(parent)) {
    const match = pattern.exec(name);
    if (match && !processAlive(Number(match[2]))) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
