import { type Database, inTransaction } from '../db/client.js';
import { type AuditEntry, insertAuditLog } from '../db/queries/audit.js';
import type { Transaction } from '../db/queries/executor.js';
import type { Logger } from '../logger.js';

export interface WriteAttempt {
  actor: string;
  operation: string;
  resourceType: string;
  /** Known before the write for updates and deletes; creations report it in their outcome. */
  resourceId?: string | null;
  /** A summary safe to keep: ids, changed field names. Never a secret. */
  details?: Record<string, unknown>;
}

export interface WriteOutcome<T> {
  result: T;
  resourceId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditedWriteOptions {
  db: Database;
  log: Logger;
  /** What to record about a failed attempt (an error code, the offending fields). */
  describeFailure: (error: unknown) => Record<string, unknown>;
  /** Turns a database error the caller anticipated (a unique violation) into its own error. */
  translateError?: (error: unknown) => unknown;
}

/**
 * Runs a write and its audit row in one transaction: both commit or
 * neither does. When the write (or the commit) fails, the attempt is
 * recorded as failed in a transaction of its own, then the error goes on
 * to the caller.
 */
export async function auditedWrite<T>(
  options: AuditedWriteOptions,
  attempt: WriteAttempt,
  write: (tx: Transaction) => Promise<WriteOutcome<T>>,
): Promise<T> {
  try {
    return await inTransaction(options.db, async (tx) => {
      const outcome = await write(tx);
      await insertAuditLog(tx, {
        ...entryOf(attempt),
        resourceId: outcome.resourceId ?? attempt.resourceId ?? null,
        success: true,
        details: { ...attempt.details, ...outcome.details },
      });
      return outcome.result;
    });
  } catch (caught) {
    const error = options.translateError ? options.translateError(caught) : caught;
    await recordFailedAttempt(options, attempt, {
      ...attempt.details,
      ...options.describeFailure(error),
    });
    throw error;
  }
}

/** Records an attempt that was refused or failed; a failure to record is logged, not thrown. */
export async function recordFailedAttempt(
  options: Pick<AuditedWriteOptions, 'db' | 'log'>,
  attempt: WriteAttempt,
  details: Record<string, unknown>,
): Promise<void> {
  try {
    await insertAuditLog(options.db, { ...entryOf(attempt), success: false, details });
  } catch (error) {
    // The caller's own error (or refusal) is what the client must see.
    options.log.error({ err: error, operation: attempt.operation }, 'could not record audit row');
  }
}

function entryOf(attempt: WriteAttempt): Omit<AuditEntry, 'success'> {
  return {
    actor: attempt.actor,
    operation: attempt.operation,
    resourceType: attempt.resourceType,
    resourceId: attempt.resourceId ?? null,
  };
}
