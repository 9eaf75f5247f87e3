-- Notices on a space (notices/space-notices.ts): what an automation or the facility tells the people in a room
-- now ("the air is stale: open a window"), shown on the member view of whoever has booked the room and on its
-- lobby tile. One current notice per space and topic (a flow posting again replaces its own); each expires, so
-- a notice whose flow stopped does not stay up.

CREATE TABLE space_notices (
  site       TEXT NOT NULL,
  space      TEXT NOT NULL,
  topic      TEXT NOT NULL,
  message    TEXT NOT NULL,
  level      TEXT NOT NULL CHECK (level IN ('info', 'warning')),
  posted_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  posted_by  TEXT NOT NULL,
  PRIMARY KEY (site, space, topic)
);
CREATE INDEX space_notices_expires ON space_notices (expires_at);
