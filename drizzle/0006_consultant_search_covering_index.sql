-- The last-name order index also carries every column a consultants filter
-- reads, so a search page (src/db/queries/consultants.ts, bounded walk) can
-- walk it index-only: a common fragment rejects thousands of names before it
-- fills a page, and each rejection is then an index tuple read, not a heap
-- visit. Same key as before, so keyset pages use it as they did. Every
-- included column is indexed already (trigram, practice, availability), so
-- no update loses a HOT path.
-- drizzle's index builder has no INCLUDE: src/db/schema/staffing.ts keeps
-- the key only and says so.
CREATE INDEX consultants_last_name_id_covering_idx ON consultants (last_name, id) INCLUDE (first_name, email, practice_id, availability);
--> statement-breakpoint
DROP INDEX consultants_last_name_id_idx;
--> statement-breakpoint
ALTER INDEX consultants_last_name_id_covering_idx RENAME TO consultants_last_name_id_idx;
