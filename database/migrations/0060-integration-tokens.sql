-- Tokens for integrations (Node-RED, scripts): `wesprint tokens create|list|revoke`, checked by the API on
-- every route and WebSocket against their scopes (access/token-scopes.ts). Not member sessions: no member, no
-- role. Like sessions and lobby tokens, only the SHA-256 of the token (hex) is kept, so a leaked database
-- opens nothing. Revoked tokens stay listed (and their use is audited as such); an active label names one
-- token (partial unique index), so `wesprint tokens revoke <label>` is never ambiguous.

CREATE TABLE integration_tokens (
  id           TEXT PRIMARY KEY CHECK (length(id) = 64),
  label        TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
  -- scope names separated by a space, e.g. 'readings:read feed:read'
  scopes       TEXT NOT NULL CHECK (length(scopes) BETWEEN 1 AND 512),
  -- the site the token is for; NULL: whichever site the API serves
  site         TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE UNIQUE INDEX integration_tokens_active_label ON integration_tokens (label) WHERE revoked_at IS NULL;
