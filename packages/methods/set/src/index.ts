import { setMethod } from './set.js';

export { setMethod, type SetOptions } from './set.js';
export default setMethod;
