import { wandaMethod } from './wanda.js';

export { wandaMethod, wandaScores, type WandaOptions } from './wanda.js';
export default wandaMethod;
