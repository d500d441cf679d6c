import { snipMethod } from './snip.js';

export { snipMethod, snipScores, type SnipOptions } from './snip.js';
export default snipMethod;
