import type { Database } from '../db/client.js';
import { insertAuditLog, setAuditAttemptCount } from '../db/queries/audit.js';
import type { Logger } from '../logger.js';

/** A mutation attempt refused before anything ran: no or bad credential, wrong role, over the rate. */
export interface Refusal {
  /** `anonymous`, the caller's actor, or `invalid-credential`. */
  actor: string;
  /** The client address the attempt came from. */
  address: string;
  operation: string;
  resourceType: string;
  /** UNAUTHENTICATED, INVALID_CREDENTIALS, FORBIDDEN or RATE_LIMITED. */
  error: string;
}

export interface RefusalAudit {
  /**
   * Counts a refusal in its row; resolves once the row that counts it is
   * written (a failure to write is logged, never thrown: the refusal is what
   * the client must get).
   */
  record(refusal: Refusal): Promise<void>;
  /** Resolves once every count taken so far is written. */
  settled(): Promise<void>;
}

/** Distinct actor/address/operation/error rows per window before they share one overflow row. */
const MAX_ROWS_PER_WINDOW = 10_000;

interface Tally {
  refusal: Refusal;
  /** Refusals counted in memory. */
  counted: number;
  /** Refusals the row says. */
  written: number;
  rowId: number | undefined;
  /** The write in flight, if any; later counts ride on the next one. */
  writing: Promise<void> | undefined;
}

/**
 * Refused attempts cost the caller nothing, so one client can make any
 * number of them: one audit row each would let it write to the database
 * at will (200 requests of 15 aliased mutations wrote 3,015 rows). Instead,
 * the first refusal of an actor, address, operation and error in a window
 * inserts a row; later ones in that window raise its `details.count`.
 * Writes to one row are serialized and coalesced — while one is in flight,
 * further refusals only count in memory and the next write carries them
 * all — so a burst costs a few statements, not one per attempt.
 */
export function createRefusalAudit(options: {
  db: Database;
  log: Logger;
  windowSeconds: number;
}): RefusalAudit {
  const windowMs = options.windowSeconds * 1000;
  let currentWindow = -1;
  let tallies = new Map<string, Tally>();
  const inFlight = new Set<Promise<void>>();

  async function write(tally: Tally): Promise<void> {
    while (tally.written < tally.counted) {
      const target = tally.counted;
      try {
        if (tally.rowId === undefined) {
          const { refusal } = tally;
          const row = await insertAuditLog(options.db, {
            actor: refusal.actor,
            operation: refusal.operation,
            resourceType: refusal.resourceType,
            success: false,
            details: {
              error: refusal.error,
              count: target,
              address: refusal.address,
              windowSeconds: options.windowSeconds,
            },
          });
          tally.rowId = row.id;
        } else {
          await setAuditAttemptCount(options.db, tally.rowId, target);
        }
        tally.written = target;
      } catch (error) {
        options.log.error(
          { err: error, operation: tally.refusal.operation },
          'could not record refused attempts',
        );
        // Given up, not retried in a loop: the next refusal tries again.
        tally.written = target;
      }
    }
  }

  function schedule(tally: Tally): Promise<void> {
    if (!tally.writing) {
      const done = write(tally).finally(() => {
        tally.writing = undefined;
        inFlight.delete(done);
      });
      tally.writing = done;
      inFlight.add(done);
      return done;
    }
    // A write is running and may already have read the count: the next one covers this refusal.
    const previous = tally.writing;
    return previous.then(() => (tally.written < tally.counted ? schedule(tally) : undefined));
  }

  return {
    record(refusal) {
      const now = Date.now();
      const window = Math.floor(now / windowMs);
      if (window !== currentWindow) {
        currentWindow = window;
        tallies = new Map();
      }
      let key = [refusal.actor, refusal.address, refusal.operation, refusal.error].join('\u0000');
      let tally = tallies.get(key);
      if (!tally && tallies.size >= MAX_ROWS_PER_WINDOW) {
        refusal = { ...refusal, actor: '(many)', address: '(many)' };
        key = ['(many)', refusal.operation, refusal.error].join('\u0000');
        tally = tallies.get(key);
      }
      if (!tally) {
        tally = {
          refusal,
          counted: 0,
          written: 0,
          rowId: undefined,
          writing: undefined,
        };
        tallies.set(key, tally);
      }
      tally.counted += 1;
      return schedule(tally);
    },
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
