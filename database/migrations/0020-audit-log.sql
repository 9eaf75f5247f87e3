-- The access audit log: every unlock attempt (and sign-in decisions of other parts), append-only.
-- Rows are never changed. They are deleted only by the retention purge (GDPR), which works through a marker:
-- a DELETE succeeds only for rows older than the cut-off written in audit_purge inside the same transaction,
-- and a cut-off newer than one day ago is refused. Any other UPDATE or DELETE aborts.
-- actor has no foreign key on purpose: the trail of a member outlives the member.

CREATE TABLE audit_log (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  at       INTEGER NOT NULL,
  actor    TEXT,
  action   TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
  target   TEXT,
  decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')),
  reason   TEXT,
  detail   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);

CREATE TABLE audit_purge (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  before INTEGER NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_purge WHERE old.at < audit_purge.before)
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: rows are removed only by the retention purge');
END;

-- Even through the purge marker, nothing younger than a day can go.
CREATE TRIGGER audit_purge_minimum_age BEFORE INSERT ON audit_purge
WHEN new.before > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - 86400000
BEGIN
  SELECT RAISE(ABORT, 'audit retention purge must keep at least the last day');
END;

CREATE TRIGGER audit_purge_no_update BEFORE UPDATE ON audit_purge
BEGIN
  SELECT RAISE(ABORT, 'audit purge marker cannot be changed');
END;
