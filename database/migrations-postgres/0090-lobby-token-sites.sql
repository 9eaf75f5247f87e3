-- The twin of database/migrations/0090-lobby-token-sites.sql for PostgreSQL (same tables, same columns).
-- A lobby screen shows one house (issue 11, SITES_DIR): a lobby token may name the site it is for, and the API
-- of another site refuses it. NULL: whichever site the API serves (every token from before the network).
ALTER TABLE lobby_tokens ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);
