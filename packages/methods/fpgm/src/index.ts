import { fpgmMethod } from './fpgm.js';

export { fpgmMethod, type FpgmOptions } from './fpgm.js';
export { distanceSums, unitDistanceSums } from './median.js';
export default fpgmMethod;
