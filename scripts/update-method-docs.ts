// Rewrites the option table of every built-in method's README from its declarations (npm run docs:methods).
import { fileURLToPath } from 'node:url';
import { BUILTIN_METHODS, updateMethodReadmes } from '@prunebench/cli';

const written = updateMethodReadmes(fileURLToPath(new URL('..', import.meta.url)), BUILTIN_METHODS);
console.log(written.length ? `rewrote ${written.join(', ')}` : 'every method README is up to date');
