-- The twin of database/migrations/0120-space-notices.sql for PostgreSQL (same table, same columns).
-- One current notice per space and topic; times are epoch milliseconds (BIGINT), the application's clock.

CREATE TABLE space_notices (
  site       TEXT NOT NULL,
  space      TEXT NOT NULL,
  topic      TEXT NOT NULL,
  message    TEXT NOT NULL,
  level      TEXT NOT NULL CHECK (level IN ('info', 'warning')),
  posted_at  BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  posted_by  TEXT NOT NULL,
  PRIMARY KEY (site, space, topic)
);
CREATE INDEX space_notices_expires ON space_notices (expires_at);
