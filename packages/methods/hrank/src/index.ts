import { hrankMethod } from './hrank.js';

export { hrankMethod, type HRankOptions } from './hrank.js';
export { FLOAT32_EPSILON, matrixRank, type MatrixRankOptions } from './matrix-rank.js';
export { RankAccumulator, averageRanks, type UnitRanks } from './ranks.js';
export default hrankMethod;
