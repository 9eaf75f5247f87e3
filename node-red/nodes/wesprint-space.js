'use strict';

/** How far ahead the node looks for the next booking, when not set: a day (the API answers up to a few weeks). */
const DEFAULT_AHEAD_HOURS = 24;

/**
 * What a space is doing now, from its bookings (`/api/spaces/:id/availability`) and its latest readings
 * (`/api/spaces/:id/latest`). "Now" is the server's: the availability answer starts at its clock.
 */
function spaceNow(space, availability, latest) {
  const at = availability ? Date.parse(availability.from) : Date.now();
  const bookings = availability
    ? availability.busy
        .map((b) => ({
          start: b.start,
          end: b.end,
          ...(b.bookingId !== undefined ? { bookingId: b.bookingId } : {}),
        }))
        .sort((a, b) => Date.parse(a.start) - Date.parse(b.start))
    : [];
  const current = bookings.find((b) => Date.parse(b.start) <= at && at < Date.parse(b.end)) ?? null;
  const next = bookings.find((b) => Date.parse(b.start) > at) ?? null;
  // Open: within opening hours, which the free times (opening hours less bookings) and the bookings cover.
  const free = availability ? availability.free : [];
  const open = availability
    ? current !== null || free.some((f) => Date.parse(f.start) <= at && at < Date.parse(f.end))
    : null;
  const occupancy = (latest?.readings ?? [])
    .filter((r) => r.quantity === 'occupancy' && typeof r.value === 'number')
    .sort((a, b) => b.ts - a.ts);
  return {
    space,
    at: new Date(at).toISOString(),
    bookable: availability !== null,
    open,
    booked: availability ? current !== null : null,
    booking: current,
    nextBooking: next,
    minutesToNextBooking: next ? Math.ceil((Date.parse(next.start) - at) / 60_000) : null,
    occupied: occupancy.length > 0 ? occupancy.some((r) => r.value > 0) : null,
    occupancyAt: occupancy.length > 0 ? new Date(occupancy[0].ts).toISOString() : null,
  };
}

/** space: asks about the message's space and sends the answer on. */
module.exports = (RED) => {
  function WesprintSpaceNode(config) {
    RED.nodes.createNode(this, config);
    const server = RED.nodes.getNode(config.server);
    const ahead = Number(config.aheadHours) > 0 ? Number(config.aheadHours) : DEFAULT_AHEAD_HOURS;
    if (!server) {
      this.status({ fill: 'grey', shape: 'ring', text: 'no WeSprint server configured' });
      return;
    }
    this.on('input', async (msg, send, done) => {
      const space =
        (typeof msg.space === 'string' && msg.space) ||
        (config.space || '').trim() ||
        (typeof msg.payload === 'string' ? msg.payload.trim() : '');
      if (!space) {
        done(new Error("no space: set msg.space, the node's Space, or a space id as msg.payload"));
        return;
      }
      const id = encodeURIComponent(space);
      try {
        const now = Date.now();
        const to = new Date(now + ahead * 3_600_000).toISOString();
        // Not bookable (a café, a corridor): 404 here, and the answer says so instead of failing.
        const availability = await server
          .get(`/api/spaces/${id}/availability?to=${encodeURIComponent(to)}`)
          .catch((err) => {
            if (err.status === 404) return null;
            throw err;
          });
        const latest = await server.get(`/api/spaces/${id}/latest`);
        msg.space = space;
        msg.payload = spaceNow(space, availability, latest);
        const p = msg.payload;
        this.status({
          fill: p.booked ? 'blue' : 'grey',
          shape: p.occupied ? 'dot' : 'ring',
          text: `${space}: ${p.booked ? 'booked' : p.booked === null ? 'not bookable' : 'free'}, ${p.occupied === null ? 'no presence sensor' : p.occupied ? 'someone there' : 'nobody there'}`,
        });
        send(msg);
        done();
      } catch (err) {
        this.status({ fill: 'red', shape: 'ring', text: err.message });
        done(err);
      }
    });
  }

  RED.nodes.registerType('wesprint-space', WesprintSpaceNode);
};

module.exports.spaceNow = spaceNow;
