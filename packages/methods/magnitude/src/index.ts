import { magnitudeMethod } from './magnitude.js';

export { magnitudeMethod, type MagnitudeAllocation, type MagnitudeOptions, type MagnitudeSchedule } from './magnitude.js';
export default magnitudeMethod;
