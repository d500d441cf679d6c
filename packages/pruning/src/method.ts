import { optionDefaults, parseOptions, type OptionSchema, type OptionsOf } from './options.js';
import type { MethodContext, MethodResult, PruningMethod, PruningTarget } from './types.js';

/** Everything a method package declares; `defineMethod` derives the defaults and the option parser from `options`. */
export interface MethodDeclaration<S extends OptionSchema> {
  /** Registry name, as suites spell it. */
  name: string;
  description: string;
  structured: boolean;
  targetKinds: ReadonlyArray<PruningTarget['kind']>;
  options: S;
  /** Rules across options, run after every field is valid; throw `<method>: option … ` naming the fields. */
  check?(options: OptionsOf<S>): void;
  run(context: MethodContext<OptionsOf<S>>): Promise<MethodResult>;
}

export function defineMethod<S extends OptionSchema>(declaration: MethodDeclaration<S>): PruningMethod<OptionsOf<S>> {
  const { name, options, check } = declaration;
  return {
    name,
    description: declaration.description,
    structured: declaration.structured,
    targetKinds: declaration.targetKinds,
    options,
    defaults: optionDefaults(options),
    parseOptions(given) {
      const parsed = parseOptions(name, options, given);
      check?.(parsed);
      return parsed;
    },
    run: declaration.run,
  };
}
