import { lthMethod } from './lth.js';

export { lthMethod, type LthOptions } from './lth.js';
export default lthMethod;
