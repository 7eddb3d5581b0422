import type pg from 'pg';

/**
 * The bench's single-row write: a consultant's availability toggled between
 * AVAILABLE and UNAVAILABLE, which moves the dashboard aggregates.
 *
 * Only consultants that are AVAILABLE or UNAVAILABLE are touched, so the
 * seed's rule — ON_MISSION exactly when the consultant has an ACTIVE mission
 * — holds throughout, and `restore()` flips back every consultant left
 * toggled, so a bench run leaves the data as the seed made it.
 */
export interface AvailabilityFlipper {
  /** Toggles the next consultant of the rotation, in a transaction of its own. */
  flip(): Promise<void>;
  /** Flips back every consultant an odd number of flips left toggled (one statement). */
  restore(): Promise<number>;
  /** Consultants currently toggled away from their seeded availability. */
  readonly toggled: number;
}

/** Picks the first `rotation` consultants that are not on a mission and cycles through them. */
export async function createAvailabilityFlipper(
  writer: pg.Client,
  rotation = 200,
): Promise<AvailabilityFlipper> {
  const { rows } = await writer.query<{ id: number }>(
    `SELECT id FROM consultants WHERE availability IN ('AVAILABLE', 'UNAVAILABLE')
     ORDER BY id LIMIT $1`,
    [rotation],
  );
  if (rows.length === 0) throw new Error('no AVAILABLE or UNAVAILABLE consultant to flip');
  const ids = rows.map((row) => row.id);
  const toggled = new Set<number>();
  let next = 0;
  return {
    async flip() {
      const id = ids[next % ids.length] as number;
      next += 1;
      const result = await writer.query(FLIP_SQL, [[id]]);
      if (result.rowCount !== 1) throw new Error(`consultant ${id} is no longer flippable`);
      if (toggled.has(id)) toggled.delete(id);
      else toggled.add(id);
    },
    async restore() {
      if (toggled.size === 0) return 0;
      const result = await writer.query(FLIP_SQL, [[...toggled]]);
      toggled.clear();
      return result.rowCount ?? 0;
    },
    get toggled() {
      return toggled.size;
    },
  };
}

const FLIP_SQL = `UPDATE consultants SET availability = CASE availability
    WHEN 'AVAILABLE' THEN 'UNAVAILABLE'::availability ELSE 'AVAILABLE'::availability END
  WHERE id = ANY ($1::int[]) AND availability IN ('AVAILABLE', 'UNAVAILABLE')`;
