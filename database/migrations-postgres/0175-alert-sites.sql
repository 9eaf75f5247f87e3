-- The twin of database/migrations/0175-alert-sites.sql for PostgreSQL (same columns). Alerts carry their site;
-- one open alert per (site, kind, subject). Rows from before have no site (NULL) until whoever opens the
-- records knowing the installation's home site gives them it (records/records.ts, `homeSite`); meanwhile
-- coalesce keeps them to one open per kind and subject among themselves. Opening an alert yields to this
-- index (`ON CONFLICT ((coalesce(site, '')), kind, subject) WHERE cleared_at IS NULL`).

ALTER TABLE alerts ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);

DROP INDEX alerts_one_open;
CREATE UNIQUE INDEX alerts_one_open ON alerts ((coalesce(site, '')), kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alerts_site_opened ON alerts (site, opened_at);
