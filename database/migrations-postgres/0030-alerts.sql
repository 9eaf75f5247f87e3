-- The twin of database/migrations/0030-alerts.sql for PostgreSQL (same tables, same columns).
-- Alerts for the facility manager. One open alert per (kind, subject): the partial unique index refuses a
-- second while the first is open. acknowledged_by has no foreign key: the history outlives the member.

CREATE TABLE alerts (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('co2_high', 'device_offline', 'night_base_load', 'door_unlocked')),
  subject         TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 128),
  space_id        TEXT,
  device_id       TEXT,
  since           BIGINT NOT NULL,
  opened_at       BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  value           DOUBLE PRECISION,
  unit            TEXT,
  detail          TEXT NOT NULL DEFAULT '{}' CHECK (detail::json IS NOT NULL),
  cleared_at      BIGINT,
  acknowledged_by TEXT,
  acknowledged_at BIGINT,
  CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alerts_opened ON alerts (opened_at);
