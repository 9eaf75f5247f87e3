import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import type { Test } from 'tap';
import WebSocket from 'ws';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { MessageJournal } from '../journal/journal.ts';
import type { SiteConfig } from '../site/site.ts';

/**
 * What the API's tests stand on: a small building (two floors, a few devices), a real aedes broker on an
 * ephemeral loopback port, and a real MQTT.js client acting as the gateway. Everything is stopped on teardown.
 */
export function smallBuilding(): SiteConfig {
  return {
    site: { id: 'test-haus', name: 'Test <Haus>', timezone: 'Europe/Berlin', supplier_co2_g_per_kwh: 380 },
    floors: [
      { id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 500 },
      { id: 'og1', name: 'Coworking', level: 1, area_m2: 400 },
    ],
    spaces: [
      { id: 'cafe', name: 'Café', floor: 'eg', kind: 'cafe', area_m2: 120 },
      { id: 'cowork', name: 'Coworking', floor: 'og1', kind: 'desk_area', area_m2: 300, capacity: 40 },
      {
        id: 'protel-1',
        name: 'Protel 1',
        floor: 'og1',
        kind: 'protel',
        area_m2: 25,
        bookable: true,
        lock: 'lock-p1',
      },
    ],
    devices: [
      {
        id: 'co2-cafe',
        profile: 'test-air',
        topic: 'zigbee2mqtt/co2-cafe',
        space: 'cafe',
        username: 'secret-user-co2',
        password_hash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
      },
      { id: 'co2-cowork', profile: 'test-air', topic: 'zigbee2mqtt/co2-cowork', space: 'cowork' },
      {
        id: 'meter-eg',
        profile: 'test-meter',
        topic: 'shellies/shellyem-ABC',
        space: 'cafe',
        meter_role: 'main',
      },
      { id: 'lock-p1', profile: 'unknown-profile', topic: 'nuki/1A2B', space: 'protel-1' },
    ],
  };
}

function profile(
  id: string,
  quantities: DeviceProfile['quantities'],
  reportingIntervalS: number,
): DeviceProfile {
  return {
    id,
    vendor: 'test',
    description: 'profile for API tests',
    sources: [],
    quantities,
    reportingIntervalS,
    subscriptions: [],
    match: () => undefined,
    decode: () => ({ readings: [] }),
    acl: () => ({ publish: [], subscribe: [] }),
  };
}

/**
 * The small building with its discourse space, the hall of the public events: bookable Monday to Saturday,
 * 09:00-22:00. Its lock, when `lock` names one of the building's locks.
 */
export function buildingWithHall(lock?: string): SiteConfig {
  const site = smallBuilding();
  site.spaces.push({
    id: 'hall',
    name: 'Diskursraum',
    floor: 'eg',
    kind: 'hall',
    area_m2: 600,
    bookable: true,
    opening_hours: [{ days: [1, 2, 3, 4, 5, 6], open: '09:00', close: '22:00' }],
    ...(lock ? { lock } : {}),
  });
  return site;
}

export function testProfiles(): Map<string, DeviceProfile> {
  return new Map([
    ['test-air', profile('test-air', ['co2', 'temperature', 'humidity', 'battery'], 60)],
    ['test-meter', profile('test-meter', ['power', 'energy'], 30)],
  ]);
}

/**
 * A bare aedes on an ephemeral loopback port. With `journal`, every client's PUBLISH is appended to it as it
 * arrives (what the project's broker does for device topics), for a gateway that reads the journal.
 */
export async function startBroker(t: Test, journal?: MessageJournal): Promise<{ url: string }> {
  const broker = await Aedes.createBroker();
  if (journal) {
    broker.on('publish', (packet, client) => {
      if (!client) return;
      void journal.append({
        topic: packet.topic,
        payload: Buffer.from(packet.payload),
        receivedAt: Date.now(),
        retainedReplay: false,
      });
    });
  }
  const server = net.createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.teardown(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address() as net.AddressInfo;
  return { url: `mqtt://127.0.0.1:${address.port}` };
}

/** An MQTT.js client standing in for the gateway that republishes on the building's topics. */
export async function startGatewayClient(t: Test, url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    clientId: `test-gateway-${process.pid}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync(true));
  return client;
}

/** Resolves when `check` holds, polling; rejects with `what` after timeoutMs (generous: the machine is shared). */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A real WebSocket client, open, that keeps every message it receives (parsed); terminated at teardown. */
export async function listenWebSocket(t: Test, url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, { headers });
  const messages: Record<string, unknown>[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  t.teardown(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, messages };
}

/** What a WebSocket upgrade gets: 'open', or the HTTP status it was refused with. */
export async function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<number | 'open'> {
  const socket = new WebSocket(url, { headers });
  return new Promise((resolve) => {
    socket.once('open', () => {
      socket.terminate();
      resolve('open');
    });
    socket.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      // Left unread, the refused response keeps its connection open and the server cannot close.
      res.resume();
      req.destroy();
    });
    socket.once('error', () => {});
  });
}
