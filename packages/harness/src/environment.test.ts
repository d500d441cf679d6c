import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';

describe('collectEnvironment', () => {
  it('records the engine, its thread count where it has one, and the machine', () => {
    const environment = collectEnvironment({ backend: 'wasm', device: 'Some CPU (2 cores, x64)', versions: { backendPackage: 'pkg@1' }, threads: 2 });
    expect(environment).toMatchObject({
      backend: 'wasm', device: 'Some CPU (2 cores, x64)', threads: 2, cpus: os.cpus().length, node: process.version,
    });
    expect(environment.versions).toMatchObject({ backendPackage: 'pkg@1', node: process.version });
    expect(collectEnvironment({ backend: 'cpu', device: 'x', versions: {} })).not.toHaveProperty('threads');
  });
});
