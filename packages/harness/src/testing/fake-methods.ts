/** Fake pruning methods for the harness's tests, built from the shared pruning utilities. */
import {
  disposeMasks,
  disposeScores,
  globalMasks,
  keepCountForTarget,
  magnitudeScores,
  type PruningMethod,
} from '@prunebench/pruning';

interface IterativeOptions extends Record<string, unknown> {
  rounds: number;
  lrScale: number;
}

/** Global magnitude pruning in `rounds` equal steps of the budget (several train calls, so resume replays). */
export const fakeIterativeMagnitude: PruningMethod<IterativeOptions> = {
  name: 'fake-iterative',
  description: 'global magnitude, retrain between rounds (tests only)',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: { rounds: 2, lrScale: 1 },
  parseOptions(options) {
    const merged = { ...this.defaults, ...(options ?? {}) };
    for (const key of Object.keys(merged)) if (!(key in this.defaults)) throw new Error(`options.${key}: unknown option; known: rounds, lrScale`);
    if (!Number.isInteger(merged.rounds) || merged.rounds < 1) throw new Error(`options.rounds: must be an integer >= 1, got ${merged.rounds}`);
    if (typeof merged.lrScale !== 'number' || !(merged.lrScale > 0)) throw new Error(`options.lrScale: must be a positive number`);
    return merged as IterativeOptions;
  },
  async run({ model, options, target, trainer, prunable }) {
    const finalKeep = keepCountForTarget(model, prunable, target);
    const prunableTotal = prunable.reduce((n, name) => n + model.params.get(name)!.size, 0);
    let masks = undefined as Awaited<ReturnType<typeof globalMasks>> | undefined;
    const perRound = Math.floor(trainer.totalExamples / options.rounds);
    for (let round = 1; round <= options.rounds; round++) {
      const keep = Math.round(prunableTotal - ((prunableTotal - finalKeep) * round) / options.rounds);
      const scores = magnitudeScores(model, prunable);
      disposeMasks(masks);
      masks = await globalMasks(scores, keep);
      disposeScores(scores);
      if (perRound > 0) await trainer.train(model, { examples: perRound, masks, lrScale: options.lrScale, label: `round-${round}` });
    }
    return { model, masks, details: { rounds: options.rounds } };
  },
};

/** Asks for one example more than the budget: the trainer must refuse. */
export const fakeGreedy: PruningMethod<Record<string, never>> = {
  name: 'fake-greedy',
  description: 'overspends its budget (tests only)',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: {},
  parseOptions: () => ({}),
  async run({ model, trainer }) {
    await trainer.train(model, { examples: trainer.remainingExamples() + 1 });
    return { model };
  },
};

/** A structured-only method, to check that compression targets are skipped for it. */
export const fakeStructured: PruningMethod<Record<string, never>> = {
  name: 'fake-structured',
  description: 'accepts only FLOP targets (tests only)',
  structured: true,
  targetKinds: ['flops-reduction'],
  defaults: {},
  parseOptions: () => ({}),
  async run({ model }) {
    return { model };
  },
};
