-- pg_trgm backs the literal substring search on consultant names and emails.
-- It is a trusted extension (PostgreSQL 13+), so a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
