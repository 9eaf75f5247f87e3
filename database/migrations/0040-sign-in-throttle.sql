-- Failed sign-ins counted per (e-mail, client address), per client address and per e-mail, for the progressive
-- waits of access/guess-throttle.ts; they replace the per-e-mail lockout, which anyone could trigger against
-- anyone. One row per scope and key (a leaky-bucket count, not one row per failure), shared by every API
-- process on this file. Times are the application's clock (epoch ms), never the database's.
-- The e-mail is as typed (lower-cased), known or not, so the counts do not reveal who is a member.

DROP TABLE login_failures;

CREATE TABLE sign_in_failures (
  scope           TEXT NOT NULL CHECK (scope IN ('account_address', 'address', 'account')),
  email           TEXT NOT NULL CHECK ((email = '') = (scope = 'address')),
  address         TEXT NOT NULL CHECK ((address = '') = (scope = 'account')),
  -- the count right after its last failure, drained since at the rule's rate
  level           REAL NOT NULL DEFAULT 0 CHECK (level >= 0),
  last_failure_at INTEGER,
  -- account_address only: the last successful sign-in of this e-mail from this address
  signed_in_at    INTEGER CHECK (signed_in_at IS NULL OR scope = 'account_address'),
  PRIMARY KEY (scope, email, address)
) WITHOUT ROWID;
CREATE INDEX sign_in_failures_age ON sign_in_failures (last_failure_at);
