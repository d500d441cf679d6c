// Lint: TypeScript rules plus Nx's module-boundary rule, which keeps the package arrows one way:
// engine <- data, models <- metrics <- pruning <- harness <- report <- cli, and pruning <- methods/* <- cli.
// The harness knows methods only through the registry it is handed (MethodRegistry); the built-in list is the
// cli's (packages/cli/src/methods.ts), so no method package is a dependency of the harness or the report.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const allow = (tag, ...deps) => ({ sourceTag: `scope:${tag}`, onlyDependOnLibsWithTags: deps.map((d) => `scope:${d}`) });

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'reports/**', 'datasets/**', '.nx/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            allow('engine'),
            allow('data', 'engine'),
            allow('models', 'engine'),
            allow('metrics', 'engine', 'models', 'data'),
            allow('pruning', 'engine', 'models', 'metrics', 'data'),
            allow('method', 'engine', 'models', 'metrics', 'data', 'pruning'),
            allow('harness', 'engine', 'models', 'metrics', 'data', 'pruning'),
            allow('report', 'engine', 'models', 'metrics', 'data', 'pruning', 'harness'),
            allow('cli', 'engine', 'models', 'metrics', 'data', 'pruning', 'method', 'harness', 'report'),
            allow('benchmarks', 'engine', 'models', 'metrics', 'data', 'pruning', 'method', 'harness', 'report'),
            // workspace generators (tools/): their tests check generated packages against the cli's registry and docs
            allow('tools', 'engine', 'models', 'metrics', 'data', 'pruning', 'method', 'harness', 'report', 'cli'),
          ],
        },
      ],
    },
  },
];
