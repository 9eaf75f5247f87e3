import { parseArgs } from 'node:util';
import { DEMO_NETWORK_DIR } from '../simulations/demo-site.ts';
import { runDecode } from './decode.ts';
import { checkGatewayHeartbeat } from './healthcheck.ts';
import { boundHeapGrowth } from './heap.ts';
import { runLoad } from './load.ts';
import { runParts } from './parts.ts';
import { RECORDS_USAGE, runRecords } from './records-copy.ts';
import { readSettings, SettingsError } from './settings.ts';
import { runBackfillCommand } from './simulated-history.ts';
import { runTokens, TOKENS_USAGE } from './tokens.ts';
import { runLobbyToken, runUsers, USERS_USAGE } from './users.ts';

const USAGE = `wesprint — building operations for cooperatives

Usage:
  wesprint start                 broker + gateway + API + simulated building, on one machine
      --no-simulation            without the simulated building (your real devices publish to the broker)
                                 with Node-RED for automations (NODE_RED=false: without; NODE_RED_PORT 1880)
  wesprint edge                  broker + gateway in one process: each device message on disk before its
                                 PUBACK, stored from there (the shape for real devices; API on its own)
  wesprint broker                the MQTT broker only
  wesprint gateway               the edge gateway only (MQTT_URL: which broker; default the local one)
  wesprint api                   the HTTP API, with the check-in and alert watchers
  wesprint simulate              the simulated building only (publishes to MQTT_URL or the local broker)
  wesprint start|simulate --sites N
                                 a network: the first N houses of SITES_DIR (default: the demo's four,
                                 the department store and three smaller ones), on one broker and gateway
  wesprint simulate --backfill 400d [--step 1h] [--sites N]
                                 write the simulated building's past (readings, bookings, one meter reboot)
                                 into DATA_DIR and exit; the first \`wesprint start\` does it (BACKFILL_DAYS);
                                 with SITES_DIR or --sites N every house's, one after the other
  wesprint simulate --load [--buildings N] [--devices M] [--rate R] [--duration S] [--qos Q]
                                 load mode: N synthetic buildings x M devices publishing real vendor payloads
                                 at R msg/s to MQTT_URL (a lab broker: BROKER_ALLOW_ANONYMOUS=true)
  wesprint decode --topic T --payload P [--site FILE]
                                 decode one vendor message into readings (JSON lines); exit 1 if it can't
${USERS_USAGE}
${TOKENS_USAGE}
${RECORDS_USAGE}

Configuration is by environment variables; see README.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'simulate' && rest.includes('--load')) return runLoad(rest, readSettings());
  if (command === 'simulate' && rest.some((a) => /^--(backfill|step)(=|$)/.test(a)))
    return runBackfillCommand(rest, readSettings());
  switch (command) {
    case 'simulate':
    case 'start':
    case 'edge':
    case 'broker':
    case 'gateway':
    case 'api': {
      const { values } = parseArgs({
        args: rest,
        options: { 'no-simulation': { type: 'boolean', default: false }, sites: { type: 'string' } },
        strict: true,
      });
      const settings = readSettings();
      // A process that runs for months: its heap follows what it holds, not the garbage it makes (cli/heap.ts).
      boundHeapGrowth();
      if (values.sites !== undefined) {
        const count = Number(values.sites);
        if (!Number.isInteger(count) || count < 1)
          throw new SettingsError(`--sites ${values.sites} must be a whole number of sites, 1 or more`);
        if (settings.siteFileExplicit)
          throw new SettingsError('--sites runs a network of site files (SITES_DIR), but SITE_FILE is set');
        settings.sitesDir ??= DEMO_NETWORK_DIR;
        settings.sitesLimit = count;
      }
      const parts =
        command === 'start'
          ? // With MQTT_URL the building already has a broker (Mosquitto, EMQX): everything else joins it.
            {
              broker: settings.mqttUrl === undefined,
              gateway: true,
              watchers: true,
              api: true,
              simulation: !values['no-simulation'],
              automations: settings.nodeRed.enabled,
            }
          : command === 'edge'
            ? { broker: true, gateway: true, watchers: false, api: false, simulation: false }
            : {
                broker: false,
                gateway: false,
                // The API's alert channel pushes what the alert watcher in its own process decides.
                watchers: command === 'api',
                api: false,
                simulation: false,
                [command === 'simulate' ? 'simulation' : command]: true,
              };
      await runParts(settings, parts);
      return -1;
    }
    case 'decode': {
      const { values } = parseArgs({
        args: rest,
        options: { topic: { type: 'string' }, payload: { type: 'string' }, site: { type: 'string' } },
        strict: true,
      });
      return runDecode(values);
    }
    case 'healthcheck': {
      if (rest[0] !== 'gateway') {
        console.error(
          'wesprint healthcheck: only `gateway` has a heartbeat (broker and API answer on their ports)',
        );
        return 2;
      }
      const problem = checkGatewayHeartbeat(readSettings().dataDir);
      if (problem) console.error(`unhealthy: ${problem}`);
      return problem ? 1 : 0;
    }
    case 'users':
      return runUsers(rest, readSettings());
    case 'lobby-token':
      return runLobbyToken(rest, readSettings());
    case 'tokens':
      return runTokens(rest, readSettings());
    case 'records':
      return runRecords(rest, readSettings());
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`wesprint: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/** Errors a user can act on are printed as one line; anything else is a bug and keeps its stack. */
const USER_ERRORS = new Set([
  'BackfillError',
  'SettingsError',
  'SiteFileError',
  'BrokerStartError',
  'PortInUseError',
  'PostgresRecordsError',
  'RecordsCopyError',
  'MigrationError',
  'StartError',
  'StoreNotSupportedError',
]);

/**
 * What the machine or the command line refused (a directory not writable, an address not on this host, an
 * unknown option, a URL that is none): the operator's to fix, so one line. Node marks these with a code;
 * system calls also name the call (`open`, `listen`, …).
 */
function operatorProblem(err: Error & { code?: unknown; syscall?: unknown }): boolean {
  if (typeof err.code !== 'string') return false;
  return typeof err.syscall === 'string' || /^ERR_(PARSE_ARGS_|INVALID_URL)/.test(err.code);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    // A command line it cannot read exits 2, as the other usage errors do.
    const usage = /^ERR_PARSE_ARGS_/.test(String((err as { code?: unknown }).code));
    if (err instanceof Error && (USER_ERRORS.has(err.name) || operatorProblem(err))) {
      console.error(`wesprint: ${err.message}${usage ? ' (wesprint --help lists the commands)' : ''}`);
      if (/^(debug|trace)$/i.test(process.env.LOG_LEVEL ?? '')) console.error(err.stack);
    } else {
      console.error(err);
    }
    process.exit(usage ? 2 : 1);
  },
);
