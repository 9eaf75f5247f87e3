-- The twin of database/migrations/0001-members.sql for PostgreSQL (same tables, same columns).
-- Members, their sign-in sessions, lobby-screen tokens and failed sign-ins (for lockout).
-- Tokens are never stored: sessions and lobby tokens are keyed by the SHA-256 of the token (hex).
-- Times are epoch milliseconds (BIGINT), the application's clock, as in the SQLite file.

CREATE TABLE members (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('member', 'facility', 'board', 'admin')),
  password_hash TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  disabled      BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE sessions (
  id         TEXT PRIMARY KEY,
  member_id  TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL
);
CREATE INDEX sessions_member ON sessions (member_id);

CREATE TABLE lobby_tokens (
  id         TEXT PRIMARY KEY,
  label      TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

-- Dropped again by 0040 (kept so that the numbers and the history stay those of the SQLite side).
CREATE TABLE login_failures (
  email TEXT NOT NULL,
  at    BIGINT NOT NULL
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);
