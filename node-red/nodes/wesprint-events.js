'use strict';

const { channelStatus } = require('../lib/wesprint-api.js');

/**
 * The kinds of event the feed `/api/events/live` carries, by the name the feed gives them, with the label
 * the editor shows. One message per event; the node lets through the kinds ticked in its settings.
 */
const EVENT_KINDS = {
  'booking-made': 'booking made',
  'booking-started': 'booking started',
  'booking-ended': 'booking ended',
  'booking-no-show': 'booking released as no-show',
  'booking-checked-in': 'checked in',
  'booking-cancelled': 'booking cancelled',
  'booking-moved': 'booking moved',
  'alert-opened': 'alert opened',
  'alert-cleared': 'alert cleared',
  'door-opened': 'door opened',
};

/** QoS 1 on the building's broker may bring an event twice: the ids of this many recent ones are kept. */
const REMEMBERED_EVENTS = 1000;

/** events in: what happens in the building (bookings, check-ins, alerts, doors) as it happens. */
module.exports = (RED) => {
  function WesprintEventsNode(config) {
    RED.nodes.createNode(this, config);
    const server = RED.nodes.getNode(config.server);
    const space = (config.space || '').trim();
    // A node saved before a kind existed, or with nothing ticked, lets every kind through.
    const ticked = Array.isArray(config.kinds) ? config.kinds.filter((k) => k in EVENT_KINDS) : [];
    const kinds = new Set(ticked.length > 0 ? ticked : Object.keys(EVENT_KINDS));
    if (!server) {
      this.status({ fill: 'grey', shape: 'ring', text: 'no WeSprint server configured' });
      return;
    }
    const dot = channelStatus(this, space === '' ? 'all spaces' : space);
    const heard = new Set();
    let lastRefusal = '';
    const channel = server.liveChannel(
      '/api/events/live',
      { space },
      {
        ...dot,
        open: () => {
          lastRefusal = '';
          dot.open();
        },
        down: (why) => {
          dot.down(why);
          const text = `${why.status ?? ''} ${why.reason}`;
          if (why.status && text !== lastRefusal)
            this.warn(`WeSprint refused /api/events/live: ${why.reason}`);
          lastRefusal = text;
        },
        message: (event) => {
          if (typeof event.type !== 'string' || !kinds.has(event.type)) return;
          if (space !== '' && event.space !== space) return;
          if (typeof event.id === 'string') {
            if (heard.has(event.id)) return;
            heard.add(event.id);
            // A Set iterates in insertion order: the oldest id goes first.
            if (heard.size > REMEMBERED_EVENTS) heard.delete(heard.values().next().value);
          }
          this.send({
            topic: event.type,
            payload: event,
            ...(typeof event.space === 'string' ? { space: event.space } : {}),
          });
        },
      },
    );
    this.on('close', (_removed, done) => {
      channel.close().then(() => done(), done);
    });
  }

  RED.nodes.registerType('wesprint-events', WesprintEventsNode);
};

module.exports.EVENT_KINDS = EVENT_KINDS;
