export * from './audit.js';
export * from './reports.js';
export * from './staffing.js';
export * from './stats.js';
export * from './tasks.js';
