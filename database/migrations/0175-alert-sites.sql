-- Alerts carry their site (issue 11, SITES_DIR: "keys carry the site"). Every house of a network has its own
-- alert watcher, and device and space ids may repeat between houses (both have a "co2-halle"), so an alert is
-- of (site, kind, subject): the one open alert per kind and subject is per site.
--
-- Rows from before this migration have no site (NULL). They are the installation's home site's (the only site
-- whose alerts were watched until now); whoever opens the records knowing that site gives them it
-- (records/records.ts, `homeSite`). Until then ifnull keeps the rows without a site to one open per kind and
-- subject among themselves, exactly as before.

ALTER TABLE alerts ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);

DROP INDEX alerts_one_open;
CREATE UNIQUE INDEX alerts_one_open ON alerts (ifnull(site, ''), kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alerts_site_opened ON alerts (site, opened_at);
