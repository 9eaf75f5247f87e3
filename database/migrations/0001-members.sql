-- Members, their sign-in sessions, lobby-screen tokens and failed sign-ins (for lockout).
-- Tokens are never stored: sessions and lobby tokens are keyed by the SHA-256 of the token (hex).

CREATE TABLE members (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('member', 'facility', 'board', 'admin')),
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);

CREATE TABLE sessions (
  id         TEXT PRIMARY KEY,
  member_id  TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL
);
CREATE INDEX sessions_member ON sessions (member_id);

CREATE TABLE lobby_tokens (
  id         TEXT PRIMARY KEY,
  label      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

-- Keyed by the e-mail as typed (lower-cased), known or not, so lockout does not reveal who is a member.
CREATE TABLE login_failures (
  email TEXT NOT NULL,
  at    INTEGER NOT NULL
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);
