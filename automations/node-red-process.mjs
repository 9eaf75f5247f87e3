import http from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { wesprintAdminAuth } from './editor-access.mjs';

/**
 * The embedded Node-RED's own process (started by embedded-node-red.ts with an IPC channel): the Node-RED 4
 * runtime as a library, its editor on its own port behind WeSprint's sign-in (editor-access.mjs), the palette
 * from its user directory, no HTTP endpoints for flows (httpNodeRoot off) and no installing from npm. A flow
 * that loops forever stalls this process, not the broker's journal or the gateway.
 *
 * Plain JavaScript (no TypeScript loader in this process: it would sit in front of each of the modules
 * Node-RED requires, a second and more of its start); the messages' shapes are `NodeRedStart` and `FromNodeRed`
 * in embedded-node-red.ts.
 *
 * The parent sends one `start` message with what it needs (the flows for a first start carry the token
 * in their credentials: over the IPC channel, never in the environment or on the command line); this process
 * answers `ready` (with the time Node-RED took) or `failed`, and passes Node-RED's log lines up as `log`.
 */

const send = (message) => process.send?.(message);

/** Node-RED's numeric levels (@node-red/util log): fatal 10, error 20, warn 30, info 40, debug 50, audit 98. */
function levelOf(level) {
  if (level <= 20) return 'error';
  if (level <= 30) return 'warn';
  if (level <= 40 || level === 98) return 'info';
  return 'debug';
}

let red;
let server;
let stopping = false;

async function start(config) {
  const began = performance.now();
  const require = createRequire(import.meta.url);
  red = require('node-red');
  server = http.createServer();
  red.init(server, {
    userDir: config.userDir,
    flowFile: 'flows.json',
    credentialSecret: config.credentialSecret,
    httpAdminRoot: '/',
    // No HTTP endpoints for flows: an "http in" node would be a route nobody declared who may call.
    httpNodeRoot: false,
    httpStatic: null,
    adminAuth: wesprintAdminAuth({
      apiUrl: config.apiUrl,
      log: (decision, detail) =>
        send({ type: 'log', level: 'info', msg: `automations editor sign-in ${decision}`, detail }),
    }),
    externalModules: { palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    runtimeState: { enabled: false },
    editorTheme: {
      page: { title: 'WeSprint OS · Automations' },
      header: { title: 'WeSprint OS · Automations' },
      projects: { enabled: false },
      tours: false,
      palette: { editable: false },
    },
    logging: {
      console: { level: 'off' },
      wesprint: {
        level: 'info',
        audit: true,
        metrics: false,
        handler: () => (entry) => {
          const msg = typeof entry.msg === 'string' ? entry.msg : (entry.event ?? String(entry.msg));
          send({ type: 'log', level: levelOf(entry.level), msg: `node-red: ${msg}` });
        },
      },
    },
  });
  server.on('request', red.httpAdmin);
  await new Promise((resolve, reject) => {
    server?.once('error', reject);
    server?.listen(config.port, config.host, () => resolve());
  });
  await red.start();
  const deployed = [];
  // The parent sends first flows only when there is no flow file yet.
  if (config.firstFlows && config.firstFlows.length > 0) {
    await red.runtime.flows.setFlows({ flows: { flows: config.firstFlows }, deploymentType: 'full' });
    for (const n of config.firstFlows) if (n.type === 'tab') deployed.push(String(n.label));
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  send({
    type: 'ready',
    url: `http://${host}:${port}/`,
    startedMs: Math.round(performance.now() - began),
    deployed,
    version: red.version(),
  });
}

async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await red?.stop();
  } finally {
    server?.closeAllConnections();
    server?.close();
    process.exit(0);
  }
}

process.on('message', (message) => {
  if (message.type === 'stop') {
    void stop();
    return;
  }
  if (message.type !== 'start') return;
  start(message).catch((err) => {
    send({ type: 'failed', error: err.message });
    process.exit(1);
  });
});
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The parent gone (killed with -9): nobody will ever stop this process, so it stops itself.
process.on('disconnect', () => void stop());
