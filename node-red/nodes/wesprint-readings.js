'use strict';

const { channelStatus } = require('../lib/wesprint-api.js');

/**
 * readings in: the building's live readings (`/api/live`), one message per reading. The API filters by space
 * and quantity itself; site and device are filtered here (the channel carries every device of the space).
 */
module.exports = (RED) => {
  function WesprintReadingsNode(config) {
    RED.nodes.createNode(this, config);
    const server = RED.nodes.getNode(config.server);
    const wanted = {
      site: (config.site || '').trim(),
      space: (config.space || '').trim(),
      device: (config.device || '').trim(),
      quantity: (config.quantity || '').trim(),
    };
    if (!server) {
      this.status({ fill: 'grey', shape: 'ring', text: 'no WeSprint server configured' });
      return;
    }
    const described =
      [wanted.site, wanted.space, wanted.device, wanted.quantity].filter((x) => x !== '').join(' · ') ||
      'all readings';
    const dot = channelStatus(this, described);
    let lastRefusal = '';
    const channel = server.liveChannel(
      '/api/live',
      { space: wanted.space, quantity: wanted.quantity },
      {
        ...dot,
        open: () => {
          lastRefusal = '';
          dot.open();
        },
        down: (why) => {
          dot.down(why);
          // Said once per reason in the log, not at every attempt.
          const text = `${why.status ?? ''} ${why.reason}`;
          if (why.status && text !== lastRefusal) this.warn(`WeSprint refused /api/live: ${why.reason}`);
          lastRefusal = text;
        },
        message: (event) => {
          if (event.type !== 'reading') return;
          if (wanted.site !== '' && event.site !== wanted.site) return;
          if (wanted.space !== '' && event.space !== wanted.space) return;
          if (wanted.device !== '' && event.device !== wanted.device) return;
          if (wanted.quantity !== '' && event.quantity !== wanted.quantity) return;
          this.send({
            topic: `${event.space}/${event.device}/${event.quantity}`,
            payload: event.value,
            site: event.site,
            space: event.space,
            device: event.device,
            channel: event.channel,
            quantity: event.quantity,
            unit: event.unit,
            ts: event.ts,
            reading: event,
          });
        },
      },
    );
    this.on('close', (_removed, done) => {
      channel.close().then(() => done(), done);
    });
  }

  RED.nodes.registerType('wesprint-readings', WesprintReadingsNode);
};
