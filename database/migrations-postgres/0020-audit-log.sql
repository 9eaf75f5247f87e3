-- The twin of database/migrations/0020-audit-log.sql for PostgreSQL (same tables, same columns).
-- The access audit log, append-only. Rows are never changed. They are deleted only by the retention purge,
-- which works through a marker: a DELETE succeeds only for rows older than the cut-off written in audit_purge
-- inside the same transaction, and a cut-off newer than one day ago (by the database's clock) is refused.
-- Any other UPDATE, DELETE or TRUNCATE aborts. actor has no foreign key: the trail outlives the member.

CREATE TABLE audit_log (
  seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at       BIGINT NOT NULL,
  actor    TEXT,
  action   TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
  target   TEXT,
  decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')),
  reason   TEXT,
  -- JSON kept as written (text, like the SQLite side); the cast refuses what is not JSON.
  detail   TEXT NOT NULL DEFAULT '{}' CHECK (detail::json IS NOT NULL)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);

CREATE TABLE audit_purge (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  before BIGINT NOT NULL
);

CREATE FUNCTION audit_log_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: rows cannot be changed' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_update();

CREATE FUNCTION audit_log_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM audit_purge WHERE old.at < audit_purge.before) THEN
    RAISE EXCEPTION 'audit_log is append-only: rows are removed only by the retention purge'
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN old;
END;
$$;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_delete();

CREATE FUNCTION audit_log_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: it cannot be truncated' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_truncate();

-- Even through the purge marker, nothing younger than a day can go.
CREATE FUNCTION audit_purge_minimum_age() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF new.before > (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 86400000 THEN
    RAISE EXCEPTION 'audit retention purge must keep at least the last day' USING ERRCODE = 'check_violation';
  END IF;
  RETURN new;
END;
$$;
CREATE TRIGGER audit_purge_minimum_age BEFORE INSERT ON audit_purge
FOR EACH ROW EXECUTE FUNCTION audit_purge_minimum_age();

CREATE FUNCTION audit_purge_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit purge marker cannot be changed' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_purge_no_update BEFORE UPDATE ON audit_purge
FOR EACH ROW EXECUTE FUNCTION audit_purge_refuse_update();
