import { CIFAR_DENSE_TRAINING_RECIPE, cifar10ResNetTask } from './cifar10-resnet.js';
import { glueBertTask } from './glue-bert.js';
import type { TaskDefinition } from './types.js';

/** He et al.'s schedule length: 64k iterations of batch 128. */
const RESNET_PAPER_EXAMPLES = 64_000 * 128;

/** The fixed task registry. */
export const TASKS: ReadonlyMap<string, TaskDefinition> = new Map(
  [
    cifar10ResNetTask(20, { kind: 'pretrained', weights: 'resnet20 (pytorch_resnet_cifar10)' }),
    cifar10ResNetTask(56, { kind: 'pretrained', weights: 'resnet56 (pytorch_resnet_cifar10)' }),
    // No local weights for ResNet-110: trained once with the paper's recipe, cached and reused.
    cifar10ResNetTask(110, { kind: 'dense-training', recipe: CIFAR_DENSE_TRAINING_RECIPE, examples: RESNET_PAPER_EXAMPLES, seed: 0 }),
    // GLUE with small BERTs, trained from scratch (no pretrained weights here) or fine-tuned from a user's checkpoint.
    ...(['bert-tiny', 'bert-mini'] as const).flatMap((size) => (['sst2', 'cola', 'mrpc', 'rte'] as const).map((name) => glueBertTask(name, size))),
  ].map((task) => [task.id, task]),
);
