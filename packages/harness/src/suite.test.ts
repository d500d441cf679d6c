import { describe, expect, it } from 'vitest';
import { SuiteValidationError } from './errors.js';
import { createMethodRegistry } from './methods.js';
import { validateSuite } from './suite.js';
import { fakeGreedy, fakeIterativeMagnitude, fakeStructured } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

const registries = {
  tasks: new Map([['fake-blobs', fakeTask()]]),
  methods: createMethodRegistry([fakeIterativeMagnitude, fakeGreedy, fakeStructured]),
};
const good = {
  name: 'mini',
  tasks: [{ id: 'fake-blobs', testSize: 12 }],
  methods: ['fake-iterative', { name: 'fake-iterative', options: { rounds: 3 } }],
  targets: [{ compression: 2 }, { flopsReduction: 0.5 }],
  seeds: [0, 1],
  budget: 64,
};

function problems(input: unknown): string[] {
  try {
    validateSuite(input, registries, 'suite.json');
  } catch (error) {
    expect(error).toBeInstanceOf(SuiteValidationError);
    return (error as SuiteValidationError).problems;
  }
  throw new Error('expected a validation error');
}

describe('suite validation', () => {
  it('accepts a good suite and normalises it', () => {
    const suite = validateSuite(good, registries);
    expect(suite.tasks).toEqual([{ id: 'fake-blobs', sizing: { testSize: 12 } }]);
    expect(suite.methods[0]).toEqual({ name: 'fake-iterative', options: {} });
    expect(suite.targets).toEqual([{ kind: 'compression', ratio: 2 }, { kind: 'flops-reduction', fraction: 0.5 }]);
    expect(suite.latency).toBe(false);
    expect(suite.flatness).toEqual({});
  });

  it('reads a sparsity target beside compression, and names an unknown target kind', () => {
    const suite = validateSuite({ ...good, targets: [{ sparsity: 0.9 }, { compression: 4 }] }, registries);
    expect(suite.targets).toEqual([{ kind: 'sparsity', fraction: 0.9 }, { kind: 'compression', ratio: 4 }]);
    expect(problems({ ...good, targets: [{ sparsity: 0 }, { density: 0.1 }, { sparsity: 0.5, compression: 2 }] })).toEqual([
      'suite.targets[0].sparsity: must be a number in (0, 1) (the fraction of prunable weights set to zero), got 0',
      'suite.targets[1].density: unknown target; use "compression", "sparsity", "flopsReduction" or "nm"',
      'suite.targets[2]: must be exactly one of { "compression": ratio > 1 }, { "sparsity": fraction in (0, 1) }, { "flopsReduction": fraction in (0, 1) } or { "nm": "N:M" }',
    ]);
  });

  it('keeps only flatness settings that differ from the defaults, so default runs keep their ids', () => {
    expect(validateSuite({ ...good, flatness: { radius: 0.05, samples: 8 } }, registries).flatness).toEqual({ samples: 8 });
    expect(validateSuite({ ...good, flatness: false }, registries).flatness).toBe(false);
    expect(problems({ ...good, flatness: { radius: -1, samples: 2.5, width: 3 } })).toEqual([
      'suite.flatness.radius: must be a number in [0, 10], got -1',
      'suite.flatness.samples: must be an integer in [1, 1000], got 2.5',
      'suite.flatness.width: unknown field; allowed: examples, radius, samples, gradientRadius',
    ]);
    expect(problems({ ...good, flatness: true })).toEqual(['suite.flatness: must be false or an object { "examples", "radius", "samples", "gradientRadius" }']);
  });

  it('names an unknown method and lists the known ones', () => {
    const found = problems({ ...good, methods: ['fake-iterative', 'fake-greedy', 'magnitud'] });
    expect(found).toEqual(['suite.methods[2].name: unknown method "magnitud"; known: fake-iterative, fake-greedy, fake-structured']);
  });

  it('reports every problem with its path', () => {
    const found = problems({
      name: '',
      tasks: [{ id: 'nope' }, { id: 'fake-blobs', testSize: -1, colour: 'red' }],
      methods: [{ name: 'fake-iterative', options: { rounds: 0 } }],
      targets: [{ compression: 0.5 }, { sparsity: 1 }],
      seeds: [1.5],
      budget: 'lots',
      backend: 'gpu',
      extra: true,
    });
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/^suite\.extra: unknown field/),
      expect.stringMatching(/^suite\.name: /),
      'suite.tasks[0].id: unknown task "nope"; known: fake-blobs',
      'suite.tasks[1].testSize: must be an integer >= 0, got -1',
      expect.stringMatching(/^suite\.tasks\[1\]\.colour: unknown field/),
      'suite.methods[0].options: fake-iterative: option rounds must be >= 1, got 0',
      'suite.targets[0].compression: must be a number > 1, got 0.5',
      'suite.targets[1].sparsity: must be a number in (0, 1) (the fraction of prunable weights set to zero), got 1',
      expect.stringMatching(/^suite\.seeds\[0\]: must be an integer/),
      expect.stringMatching(/^suite\.budget: must be a non-negative integer/),
      expect.stringMatching(/^suite\.backend: unknown backend "gpu"/),
    ]));
    expect(found).toHaveLength(11);
  });

  it('names the file in the message and rejects non-objects and empty lists', () => {
    expect(() => validateSuite([], registries, 'x.json')).toThrow(/^x\.json: invalid suite:\n {2}suite: must be a JSON object/);
    expect(problems({ ...good, seeds: [] })).toEqual(['suite.seeds: must be a non-empty array']);
  });
});
