import type pg from 'pg';

export interface FlippableConsultant {
  id: number;
  availability: string;
}

/**
 * Consultants the bench may flip between AVAILABLE and UNAVAILABLE (never
 * ON_MISSION, which the seed derives from missions), with what each was, so
 * {@link restoreAvailability} can put the data back as the seed made it.
 */
export async function pickFlippable(
  writer: pg.Client,
  limit = 200,
): Promise<FlippableConsultant[]> {
  const { rows } = await writer.query<FlippableConsultant>(
    `SELECT id, availability::text AS availability FROM consultants
      WHERE availability IN ('AVAILABLE', 'UNAVAILABLE') ORDER BY id LIMIT $1`,
    [limit],
  );
  if (rows.length === 0) throw new Error('no AVAILABLE or UNAVAILABLE consultant to flip');
  return rows;
}

/** Flips one consultant's availability in a transaction of its own: a write that moves the aggregates. */
export async function flipAvailability(writer: pg.Client, consultantId: number): Promise<void> {
  await writer.query(
    `UPDATE consultants SET availability = CASE availability
       WHEN 'AVAILABLE' THEN 'UNAVAILABLE'::availability ELSE 'AVAILABLE'::availability END
     WHERE id = $1`,
    [consultantId],
  );
}

export async function restoreAvailability(
  writer: pg.Client,
  consultants: FlippableConsultant[],
): Promise<void> {
  await writer.query(
    `UPDATE consultants c SET availability = o.availability::availability
       FROM unnest($1::int[], $2::text[]) AS o(id, availability)
      WHERE c.id = o.id AND c.availability::text <> o.availability`,
    [consultants.map((row) => row.id), consultants.map((row) => row.availability)],
  );
}
