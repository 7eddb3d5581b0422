export * from './staffing.js';
export * from './stats.js';
