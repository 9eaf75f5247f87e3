-- The twin of database/migrations/0060-integration-tokens.sql for PostgreSQL (same table, same columns).
-- Tokens for integrations (`wesprint tokens`), kept only as the SHA-256 of the token (hex); an active label
-- names one token (partial unique index). Times are epoch milliseconds (BIGINT), the application's clock.

CREATE TABLE integration_tokens (
  id           TEXT PRIMARY KEY CHECK (length(id) = 64),
  label        TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
  -- scope names separated by a space, e.g. 'readings:read feed:read'
  scopes       TEXT NOT NULL CHECK (length(scopes) BETWEEN 1 AND 512),
  -- the site the token is for; NULL: whichever site the API serves
  site         TEXT,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at   BIGINT
);
CREATE UNIQUE INDEX integration_tokens_active_label ON integration_tokens (label) WHERE revoked_at IS NULL;
