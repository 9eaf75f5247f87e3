import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Secrets } from '../site/credentials.ts';

/** One space, one CO2 sensor: parts start in a moment, and every reading is easy to follow. */
export const WERKHOF_SITE = {
  site: { id: 'werkhof', name: 'Werkhof' },
  floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 100 }],
  spaces: [{ id: 'halle', name: 'Halle', floor: 'eg', kind: 'cafe', area_m2: 100 }],
  devices: [
    { id: 'co2-halle', profile: 'zigbee2mqtt-air-quality', topic: 'zigbee2mqtt/co2-halle', space: 'halle' },
  ],
};

/**
 * A DATA_DIR and a site file shared by the `wesprint` parts of one test, as a compose volume would be, and
 * the environment they run with: loopback, ephemeral ports, JSON log at info, no history.
 */
export function serviceDataDir(t: { teardown(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-service-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const siteFile = path.join(dir, 'werkhof.site.json');
  fs.writeFileSync(siteFile, JSON.stringify(WERKHOF_SITE));
  const dataDir = path.join(dir, 'data');
  const env = {
    DATA_DIR: dataDir,
    SITE_FILE: siteFile,
    MQTT_HOST: '127.0.0.1',
    MQTT_WS_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    // Any Node-RED `wesprint start` runs on a port of its own choosing, never 1880 (tests run side by side).
    NODE_RED_PORT: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    BACKFILL_DAYS: '0',
    ADMIN_EMAIL: '',
  };
  /** The generated MQTT passwords, once a part has started. */
  const secrets = () => JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as Secrets;
  return { dir, dataDir, env, secrets };
}
