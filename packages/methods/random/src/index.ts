import { randomMethod } from './random.js';

export { randomMethod, type RandomOptions } from './random.js';
export default randomMethod;
