-- The twin of database/migrations/0160-integration-token-locks.sql for PostgreSQL (same table, same columns).
-- The doors an integration token with unlock:write may open: space ids or lock device ids, separated by a
-- space. NULL: none (every token from before, and every token without unlock:write).
ALTER TABLE integration_tokens ADD COLUMN locks TEXT CHECK (locks IS NULL OR length(locks) BETWEEN 1 AND 4096);
