-- Alerts for the facility manager (alerts/alert-rules.ts decides, alerts/alert-store.ts writes).
-- One open alert per (kind, subject): a second one cannot be inserted while the first is open (partial unique
-- index). Rows are kept after clearing as the alert history; no retention purge yet (they carry no personal
-- data but the acknowledging member's id).
-- acknowledged_by has no foreign key on purpose, as in the audit log: the history outlives the member.

CREATE TABLE alerts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            TEXT NOT NULL CHECK (kind IN ('co2_high', 'device_offline', 'night_base_load', 'door_unlocked')),
  subject         TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 128),
  space_id        TEXT,
  device_id       TEXT,
  since           INTEGER NOT NULL,
  opened_at       INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  value           REAL,
  unit            TEXT,
  detail          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  cleared_at      INTEGER,
  acknowledged_by TEXT,
  acknowledged_at INTEGER,
  CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alerts_opened ON alerts (opened_at);
