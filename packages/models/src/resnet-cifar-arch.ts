import type { ArchSpec } from './types.js';

/**
 * One BasicBlock: conv3×3(stride) in→mid, conv3×3 mid→out; option-A shortcut when stride ≠ 1 or in ≠ out.
 * A block removed by surgery (`removed: true`, `mid: 0`) has no parameters and computes only its shortcut
 * (identity, or subsample + zero-pad for a stride-2 / widening block); it keeps its place, so the names of the
 * blocks after it (`layer2.3` …) do not change.
 */
export interface ResNetCifarBlock {
  mid: number;
  out: number;
  stride: number;
  removed?: boolean;
  /**
   * Option-A shortcut's channel map, left out for the reference padding: for each input channel, the output channel
   * it lands in (−1: dropped); output channels no input lands in are zero. Written by surgery on coupled channel
   * groups (the stage streams), where the kept channels of two stages no longer sit at one fixed offset. A block with
   * a map is an option-A block even at stride 1 and equal widths, and its output may be narrower than its input.
   */
  shortcut?: number[];
}

export interface ResNetCifarArch extends ArchSpec {
  family: 'resnet-cifar';
  /** 2 · blocks + 2, counting removed blocks too: the depth of the architecture a surgered model was cut from. */
  depth: number;
  numClasses: number;
  /** Output channels of the stem convolution `conv1`. */
  stem: number;
  stages: { blocks: ResNetCifarBlock[] }[];
}

export const RESNET_CIFAR_DEPTHS = [20, 32, 44, 56, 110] as const;

/** The reference architecture (He et al. 2016, CIFAR): three stages of 16/32/64 channels, n = (depth − 2) / 6 blocks each. */
export function resnetCifarArch(depth: number, numClasses = 10): ResNetCifarArch {
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new Error(`resnet-cifar depth must be 6n + 2 (20, 32, 44, 56, 110, …), got ${depth}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  const n = (depth - 2) / 6;
  const stages = [16, 32, 64].map((width, s) => ({
    blocks: Array.from({ length: n }, (_, b) => ({ mid: width, out: width, stride: s > 0 && b === 0 ? 2 : 1 })),
  }));
  return { family: 'resnet-cifar', depth, numClasses, stem: 16, stages };
}

function positiveInt(value: unknown, field: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new Error(`resnet-cifar arch: ${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** Check an arch (e.g. read from JSON) and return it typed; errors name the offending field. */
export function validateResNetCifarArch(arch: unknown): ResNetCifarArch {
  if (typeof arch !== 'object' || arch === null) throw new Error('resnet-cifar arch must be an object');
  const a = arch as Record<string, unknown>;
  if (a.family !== 'resnet-cifar') throw new Error(`resnet-cifar arch: family must be "resnet-cifar", got ${JSON.stringify(a.family)}`);
  const depth = positiveInt(a.depth, 'depth');
  positiveInt(a.numClasses, 'numClasses');
  let channels = positiveInt(a.stem, 'stem');
  if (!Array.isArray(a.stages) || a.stages.length === 0) throw new Error('resnet-cifar arch: stages must be a non-empty array');
  let blockCount = 0;
  a.stages.forEach((stage: unknown, s: number) => {
    const blocks = (stage as { blocks?: unknown })?.blocks;
    if (!Array.isArray(blocks) || blocks.length === 0) throw new Error(`resnet-cifar arch: stages[${s}].blocks must be a non-empty array`);
    blocks.forEach((block: unknown, b: number) => {
      const where = `stages[${s}].blocks[${b}]`;
      if (typeof block !== 'object' || block === null) throw new Error(`resnet-cifar arch: ${where} must be an object`);
      const { mid, out, stride, removed, shortcut } = block as Record<string, unknown>;
      if (removed !== undefined && typeof removed !== 'boolean') {
        throw new Error(`resnet-cifar arch: ${where}.removed must be true or false, got ${JSON.stringify(removed)}`);
      }
      if (removed === true) {
        if (mid !== 0) throw new Error(`resnet-cifar arch: ${where}.mid must be 0 for a removed block, got ${JSON.stringify(mid)}`);
      } else {
        positiveInt(mid, `${where}.mid`);
      }
      positiveInt(out, `${where}.out`);
      positiveInt(stride, `${where}.stride`);
      if (shortcut !== undefined) {
        checkShortcutMap(shortcut, channels, out as number, where);
      } else if ((stride !== 1 || out !== channels) && (out as number) < channels) {
        throw new Error(
          `resnet-cifar arch: ${where}.out (${out}) is smaller than its input (${channels}); the option-A shortcut can only zero-pad channels`,
        );
      }
      channels = out as number;
      blockCount++;
    });
  });
  if (depth !== 2 * blockCount + 2) {
    throw new Error(`resnet-cifar arch: depth ${depth} does not match ${blockCount} blocks (depth = 2·blocks + 2)`);
  }
  return arch as ResNetCifarArch;
}

function checkShortcutMap(map: unknown, inChannels: number, outChannels: number, where: string): void {
  if (!Array.isArray(map) || map.length !== inChannels) {
    throw new Error(`resnet-cifar arch: ${where}.shortcut must be an array of ${inChannels} output channels (one per input channel)`);
  }
  const seen = new Set<number>();
  map.forEach((o: unknown, i) => {
    if (!Number.isInteger(o) || (o as number) < -1 || (o as number) >= outChannels) {
      throw new Error(`resnet-cifar arch: ${where}.shortcut[${i}] must be an integer in [-1, ${outChannels}), got ${JSON.stringify(o)}`);
    }
    if ((o as number) >= 0 && seen.has(o as number)) throw new Error(`resnet-cifar arch: ${where}.shortcut maps two channels to ${o}`);
    seen.add(o as number);
  });
}

/** The reference option-A map: input channel i lands in output channel ⌊(out − in)/2⌋ + i. */
export function defaultShortcutMap(inChannels: number, outChannels: number): number[] {
  const before = shortcutPadBefore(inChannels, outChannels);
  return Array.from({ length: inChannels }, (_, i) => before + i);
}

/** A block's option-A channel map (its own, or the reference padding's). */
export function shortcutMapOf(block: ResolvedBlock): number[] {
  return block.shortcut ? [...block.shortcut] : defaultShortcutMap(block.in, block.out);
}

/**
 * For a map, the input channel each output channel takes (−1: a zero channel), and whether the map is the
 * reference padding (a contiguous run at ⌊(out − in)/2⌋, which runs as a plain pad).
 */
export function shortcutSources(map: readonly number[], outChannels: number): { sources: number[]; padding: boolean } {
  const sources = new Array<number>(outChannels).fill(-1);
  map.forEach((o, i) => {
    if (o >= 0) sources[o] = i;
  });
  const before = outChannels >= map.length ? shortcutPadBefore(map.length, outChannels) : -1;
  const padding = before >= 0 && map.every((o, i) => o === before + i);
  return { sources, padding };
}

/** A block with its position, names and input width, as the model and the tracer walk it. */
export interface ResolvedBlock extends ResNetCifarBlock {
  prefix: string; // e.g. `layer2.0`
  in: number;
  optionA: boolean;
  removed: boolean;
}

export function resolveBlocks(arch: ResNetCifarArch): ResolvedBlock[] {
  const out: ResolvedBlock[] = [];
  let channels = arch.stem;
  arch.stages.forEach((stage, s) =>
    stage.blocks.forEach((block, b) => {
      out.push({
        ...block, prefix: `layer${s + 1}.${b}`, in: channels,
        optionA: block.stride !== 1 || block.out !== channels || block.shortcut !== undefined, removed: block.removed === true,
      });
      channels = block.out;
    }),
  );
  return out;
}

/** Channels of the final feature map (input of `linear`). */
export function finalWidth(arch: ResNetCifarArch): number {
  const last = arch.stages[arch.stages.length - 1].blocks;
  return last[last.length - 1].out;
}

/** Zero channels before the identity channels in an option-A shortcut (the reference pads planes/4 on each side). */
export function shortcutPadBefore(inChannels: number, outChannels: number): number {
  return Math.floor((outChannels - inChannels) / 2);
}

/** PyTorch's output size for a k×k convolution with padding (k − 1) / 2. */
export function convOutSize(size: number, kernel: number, stride: number): number {
  const pad = Math.floor((kernel - 1) / 2);
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}
