-- Bookings of spaces (desks, rooms, Protel rooms, the hall) and the members' calendar feed tokens.
-- Times are epoch milliseconds, intervals half-open [start_ms, end_ms).
-- A booking is active while 'booked' or 'checked_in'; 'released' (no-show) and 'cancelled' free the slot
-- but stay for the board report (booked vs really used).

CREATE TABLE bookings (
  id            TEXT PRIMARY KEY,
  member_id     TEXT NOT NULL REFERENCES members (id),
  space_id      TEXT NOT NULL,
  start_ms      INTEGER NOT NULL,
  end_ms        INTEGER NOT NULL,
  status        TEXT NOT NULL DEFAULT 'booked'
                CHECK (status IN ('booked', 'checked_in', 'released', 'cancelled')),
  created_at    INTEGER NOT NULL,
  checked_in_at INTEGER,
  released_at   INTEGER,
  cancelled_at  INTEGER,
  cancelled_by  TEXT,
  CHECK (end_ms > start_ms)
);
CREATE INDEX bookings_space_time ON bookings (space_id, start_ms);
CREATE INDEX bookings_member_time ON bookings (member_id, start_ms);
CREATE INDEX bookings_status_start ON bookings (status, start_ms);

-- The no-overlap invariant, defended in the schema as well as in the store's transaction: whatever
-- writes to this table (a future second process, a hand-made fix), two active bookings of one space never
-- share a moment.
CREATE TRIGGER bookings_no_overlap_insert
BEFORE INSERT ON bookings
WHEN NEW.status IN ('booked', 'checked_in')
BEGIN
  SELECT RAISE(ABORT, 'booking_overlap')
  WHERE EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.space_id = NEW.space_id
      AND b.status IN ('booked', 'checked_in')
      AND b.start_ms < NEW.end_ms
      AND NEW.start_ms < b.end_ms
  );
END;

CREATE TRIGGER bookings_no_overlap_update
BEFORE UPDATE OF space_id, start_ms, end_ms, status ON bookings
WHEN NEW.status IN ('booked', 'checked_in')
BEGIN
  SELECT RAISE(ABORT, 'booking_overlap')
  WHERE EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.id <> NEW.id
      AND b.space_id = NEW.space_id
      AND b.status IN ('booked', 'checked_in')
      AND b.start_ms < NEW.end_ms
      AND NEW.start_ms < b.end_ms
  );
END;

-- One calendar-feed token per member, for calendar apps that cannot send a cookie. Only the SHA-256 (hex)
-- of the token is kept; creating a new one replaces (revokes) the old, deleting it revokes the feed.
CREATE TABLE calendar_tokens (
  token_hash TEXT PRIMARY KEY,
  member_id  TEXT NOT NULL UNIQUE REFERENCES members (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
);
