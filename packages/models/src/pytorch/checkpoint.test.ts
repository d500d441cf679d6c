import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../safetensors.js';
import { loadTorchCheckpoint, parseTorchCheckpoint } from './checkpoint.js';
import { unpickle } from './pickle.js';
import { writeZip } from '@prunebench/engine';

const weightsRoot = process.env.PRUNEBENCH_WEIGHTS;
const dir = weightsRoot ? join(weightsRoot, 'resnet-cifar10') : '';
if (!weightsRoot) console.warn('SKIPPED: PyTorch checkpoint tests on real files need PRUNEBENCH_WEIGHTS');

describe.skipIf(!weightsRoot || !existsSync(dir))('ResNet-20 checkpoints in three formats', () => {
  it('legacy .th, zip .pt and .safetensors give identical tensors', async () => {
    const legacy = parseTorchCheckpoint(
      new Uint8Array((await import('node:fs')).readFileSync(join(dir, 'resnet20-12fca82f.th'))),
      'resnet20-12fca82f.th',
    );
    expect(legacy.format).toBe('legacy');
    expect((legacy.object as Map<string, unknown>).get('best_prec1')).toBeCloseTo(91.78, 2);
    const zip = parseTorchCheckpoint(new Uint8Array((await import('node:fs')).readFileSync(join(dir, 'resnet20-zipformat.pt'))));
    expect(zip.format).toBe('zip');
    const st = await readSafetensors(join(dir, 'resnet20.safetensors'));
    const stFloat = new Map([...st].filter(([name]) => !name.endsWith('num_batches_tracked')));
    expect(legacy.stateDict.size).toBe(stFloat.size);
    expect(zip.stateDict.size).toBe(stFloat.size);
    expect(legacy.stateDict.get('conv1.weight')!.shape).toEqual([16, 3, 3, 3]);
    expect(legacy.stateDict.get('linear.weight')!.shape).toEqual([10, 64]);
    for (const [name, ref] of stFloat) {
      for (const other of [legacy.stateDict, zip.stateDict]) {
        const t = other.get(name);
        expect(t, name).toBeDefined();
        expect(t!.shape).toEqual(ref.shape);
        expect(t!.data).toEqual(ref.data);
      }
    }
    // loadTorchCheckpoint takes a path too.
    expect(loadTorchCheckpoint(join(dir, 'resnet20-zipformat.pt')).get('layer3.2.bn2.running_var')!.data).toEqual(
      stFloat.get('layer3.2.bn2.running_var')!.data,
    );
  });
});

describe('unpickler', () => {
  it('reads protocol-2 containers, numbers and globals', () => {
    // pickle.dumps({'a': [1, 300, -5, 2**40, 1.5, None, True], 'b': ('x', b'yz')}, protocol=2) built by hand
    const bytes: number[] = [0x80, 2, 0x7d, 0x71, 0, 0x28];
    const str = (s: string) => [0x58, s.length, 0, 0, 0, ...[...s].map((c) => c.charCodeAt(0))];
    bytes.push(...str('a'), 0x5d, 0x28, 0x4b, 1, 0x4d, 0x2c, 0x01, 0x4a, 0xfb, 0xff, 0xff, 0xff);
    bytes.push(0x8a, 6, 0, 0, 0, 0, 0, 1); // LONG1 2**40
    const f = new DataView(new ArrayBuffer(8));
    f.setFloat64(0, 1.5, false);
    bytes.push(0x47, ...new Uint8Array(f.buffer), 0x4e, 0x88, 0x65);
    bytes.push(...str('b'), 0x8c, 1, 0x78, 0x43, 2, 0x79, 0x7a, 0x86, 0x75, 0x2e);
    const { value, end } = unpickle(new Uint8Array(bytes));
    expect(end).toBe(bytes.length);
    const m = value as Map<string, unknown>;
    expect(m.get('a')).toEqual([1, 300, -5, 2 ** 40, 1.5, null, true]);
    expect(m.get('b')).toEqual(['x', new Uint8Array([0x79, 0x7a])]);
  });

  it('names an unsupported opcode and the source', () => {
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x49, 0x31, 0x0a, 0x2e]), { source: 'bad.pkl' })).toThrow(
      /bad\.pkl.*opcode INT/,
    );
  });

  it('reports truncation', () => {
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x58, 10, 0, 0, 0, 0x61]), { source: 'cut.pkl' })).toThrow(/cut\.pkl.*truncated/);
  });
});

describe('zip checkpoints', () => {
  it('names the file when the zip is truncated', () => {
    const bytes = writeZip([{ name: 'a', data: new Uint8Array(100) }]);
    expect(() => parseTorchCheckpoint(bytes.subarray(0, 60), 'cut.pt')).toThrow(/cut\.pt/);
  });
});

describe('legacy format, synthetic', () => {
  // A tiny pickle writer for the opcodes the legacy writer emits.
  const enc = new TextEncoder();
  const str = (s: string) => { const b = enc.encode(s); return [0x58, b.length, 0, 0, 0, ...b]; };
  const int1 = (n: number) => [0x4b, n];
  const global = (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)];
  const pickle = (...ops: number[]) => [0x80, 2, ...ops, 0x2e];

  it('reads a transposed (non-contiguous) tensor under state_dict with a module. prefix', () => {
    const magic = pickle(0x8a, 10, ...[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
    const protocol = pickle(0x4d, 0xe9, 0x03);
    const sysInfo = pickle(0x7d, 0x28, ...str('little_endian'), 0x88, 0x75);
    const tensor = [
      ...global('torch._utils', '_rebuild_tensor_v2'), 0x28,
      0x28, ...str('storage'), ...global('torch', 'FloatStorage'), ...str('0'), ...str('cpu'), ...int1(6), 0x4e, 0x74, 0x51,
      ...int1(0), ...int1(2), ...int1(3), 0x86, ...int1(1), ...int1(2), 0x86, 0x89,
      ...global('collections', 'OrderedDict'), 0x29, 0x52, 0x74, 0x52,
    ];
    const count = [...global('torch._utils', '_rebuild_tensor_v2'), 0x28,
      0x28, ...str('storage'), ...global('torch', 'LongStorage'), ...str('1'), ...str('cpu'), ...int1(1), 0x4e, 0x74, 0x51,
      ...int1(0), 0x29, 0x29, 0x89, ...global('collections', 'OrderedDict'), 0x29, 0x52, 0x74, 0x52];
    const main = pickle(
      0x7d, 0x28, ...str('state_dict'), ...global('collections', 'OrderedDict'), 0x29, 0x52, 0x28,
      ...str('module.w'), ...tensor, ...str('module.bn.num_batches_tracked'), ...count, 0x75, ...str('epoch'), ...int1(3), 0x75,
    );
    const keys = pickle(0x5d, 0x28, ...str('0'), ...str('1'), 0x65);
    const storage0 = new Uint8Array(8 + 24);
    new DataView(storage0.buffer).setBigInt64(0, 6n, true);
    new Float32Array(storage0.buffer, 8).set([0, 1, 2, 3, 4, 5]);
    const storage1 = new Uint8Array(16);
    new DataView(storage1.buffer).setBigInt64(0, 1n, true);
    new DataView(storage1.buffer).setBigInt64(8, 42n, true);
    const bytes = new Uint8Array([...magic, ...protocol, ...sysInfo, ...main, ...keys, ...storage0, ...storage1]);
    const ckpt = parseTorchCheckpoint(bytes, 'synthetic.th');
    expect(ckpt.format).toBe('legacy');
    // shape (2, 3) with strides (1, 2): element [i][j] = storage[i + 2j]
    expect(ckpt.stateDict.get('w')).toEqual({ shape: [2, 3], data: Float32Array.from([0, 2, 4, 1, 3, 5]) });
    expect(ckpt.integerTensors.get('bn.num_batches_tracked')).toEqual({ shape: [], data: Float32Array.from([42]) });
    expect((ckpt.object as Map<string, unknown>).get('epoch')).toBe(3);
    expect(() => parseTorchCheckpoint(bytes.subarray(0, bytes.length - 4), 'cut.th')).toThrow(/cut\.th: truncated in storage 1/);
  });
});
