import type { Database } from '../client.js';

/** The pool-backed database or a transaction opened on it: write queries accept either. */
export type Executor = Pick<Database, 'select' | 'insert' | 'update' | 'delete' | 'execute'>;

/** A transaction handle, as `db.transaction` passes it. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
