import { ckaHybridMethod } from './cka-hybrid.js';

export { ckaHybridMethod, type CkaHybridOptions } from './cka-hybrid.js';
export { linearCka } from './linear-cka.js';
export { featuresWithoutEachBlock } from './cka-hybrid.js';
export default ckaHybridMethod;
