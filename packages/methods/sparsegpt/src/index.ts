import { sparsegptMethod } from './sparsegpt.js';

export { sparsegptMethod, type SparsegptOptions } from './sparsegpt.js';
export { sparsegptSolve, cholesky, inverseHessianFactor, type SolverPattern, type SolverResult, type SolverSettings } from './solver.js';
export default sparsegptMethod;
