/** Fake pruning methods for the harness's tests, built from the shared pruning utilities. */
import {
  disposeMasks,
  disposeScores,
  globalMasks,
  keepCountForTarget,
  defineMethod,
  magnitudeScores,
  numberOption,
  type PruningMethod,
} from '@prunebench/pruning';

/** Global magnitude pruning in `rounds` equal steps of the budget (several train calls, so resume replays). */
export const fakeIterativeMagnitude = defineMethod({
  name: 'fake-iterative',
  description: 'global magnitude, retrain between rounds (tests only)',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  options: {
    rounds: numberOption({ default: 2, min: 1, integer: true, doc: 'pruning rounds' }),
    lrScale: numberOption({ default: 1, minExclusive: 0, doc: 'learning-rate multiplier' }),
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
});

/** Asks for one example more than the budget: the trainer must refuse. */
export const fakeGreedy: PruningMethod<Record<string, never>> = {
  name: 'fake-greedy',
  description: 'overspends its budget (tests only)',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  options: {},
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
  options: {},
  defaults: {},
  parseOptions: () => ({}),
  async run({ model }) {
    return { model };
  },
};
