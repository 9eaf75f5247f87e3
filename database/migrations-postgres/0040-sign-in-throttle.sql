-- The twin of database/migrations/0040-sign-in-throttle.sql for PostgreSQL (same tables, same columns).
-- Failed sign-ins counted per (e-mail, client address), per client address and per e-mail, for the progressive
-- waits of access/guess-throttle.ts: one row per scope and key, shared by every API process on this database.
-- Times are the application's clock (epoch ms), never the database's.

DROP TABLE login_failures;

CREATE TABLE sign_in_failures (
  scope           TEXT NOT NULL CHECK (scope IN ('account_address', 'address', 'account')),
  email           TEXT NOT NULL CHECK ((email = '') = (scope = 'address')),
  address         TEXT NOT NULL CHECK ((address = '') = (scope = 'account')),
  level           DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (level >= 0),
  last_failure_at BIGINT,
  signed_in_at    BIGINT CHECK (signed_in_at IS NULL OR scope = 'account_address'),
  PRIMARY KEY (scope, email, address)
);
CREATE INDEX sign_in_failures_age ON sign_in_failures (last_failure_at);
