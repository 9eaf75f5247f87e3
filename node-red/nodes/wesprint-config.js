'use strict';

const { LiveChannel, call, get } = require('../lib/wesprint-api.js');

/**
 * The WeSprint server the other nodes talk to: its API URL, and the token they present (a credential, so it
 * is kept encrypted in the flows' credentials file and never exported with a flow).
 */
module.exports = (RED) => {
  function WesprintConfigNode(config) {
    RED.nodes.createNode(this, config);
    this.name = config.name;
    this.url = config.url;
    const server = {
      url: config.url,
      token: this.credentials?.token,
    };
    /** An HTTP call: resolves {status, body} for any answer, rejects when none came. */
    this.call = (method, path, body) => call(server, method, path, body);
    /** A GET whose non-2xx answer rejects with the API's message. */
    this.get = (path) => get(server, path);
    /** A live channel kept open until closed (see lib/wesprint-api.js). */
    this.liveChannel = (path, query, on) => new LiveChannel(server, path, query, on).start();
  }

  RED.nodes.registerType('wesprint-config', WesprintConfigNode, {
    credentials: { token: { type: 'password' } },
  });
};
