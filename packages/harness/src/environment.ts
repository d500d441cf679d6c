import { execFileSync } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { EnvironmentRecord } from './record.js';

/** What the engine reports about itself (a subset of @prunebench/engine's EngineInfo). */
export interface EngineDescription {
  backend: string;
  device: string;
  versions: Record<string, string>;
  threads?: number;
  adapter?: { description: string; software: boolean };
}

/** The environment a run executed in: backend, device, versions, git commit (null outside a checkout). */
export function collectEnvironment(engine: EngineDescription | null, cwd = process.cwd()): EnvironmentRecord {
  return {
    backend: engine?.backend ?? tf.getBackend() ?? 'unknown',
    device: engine?.device ?? `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores)`,
    versions: { tfjs: tf.version.tfjs, ...(engine?.versions ?? {}), node: process.version },
    gitCommit: gitCommit(cwd),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    ...(engine?.threads !== undefined ? { threads: engine.threads } : {}),
    ...(engine?.adapter ? { adapter: { description: engine.adapter.description, software: engine.adapter.software } } : {}),
  };
}

function gitCommit(cwd: string): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}
