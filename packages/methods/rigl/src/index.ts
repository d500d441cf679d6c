import { riglMethod } from './rigl.js';

export { riglMethod, type RiglOptions } from './rigl.js';
export default riglMethod;
