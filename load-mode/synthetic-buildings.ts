import mqtt, { type MqttClient } from 'mqtt';
import type { Quantity } from '../building/quantities.ts';
import { shellyGen2Messages } from '../device-families/shelly-gen2/simulator.ts';
import { tasmotaSensorPayload } from '../device-families/tasmota-energy/simulator.ts';
import { z2mAirQualityPayload } from '../device-families/zigbee2mqtt-air-quality/simulator.ts';
import { z2mOccupancyPayload } from '../device-families/zigbee2mqtt-occupancy/simulator.ts';
import type { MqttCredentials } from '../simulations/simulator.ts';
import type { DeviceMessage } from '../simulations/virtual-device.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';

/**
 * Load mode for benchmarks: many devices of the real families, real vendor payloads, a target rate,
 * from a few connections (a lab broker or one account allowed to publish them), and an exact account of
 * what was sent so a benchmark can prove that nothing was lost.
 */

export const LOAD_FAMILIES = [
  'zigbee2mqtt-occupancy',
  'zigbee2mqtt-air-quality',
  'shelly-gen1',
  'shelly-gen2',
  'tasmota-energy',
  'nuki-mqtt',
] as const;

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');

/** Base topic of the i-th load device (globally unique for up to 16 million devices). */
function loadTopic(profile: string, id: string, index: number): string {
  switch (profile) {
    case 'zigbee2mqtt-occupancy':
    case 'zigbee2mqtt-air-quality':
      return `zigbee2mqtt/${id}`;
    case 'shelly-gen1':
      return `shellies/shellyem3-${hex(index, 12).toUpperCase()}`;
    case 'shelly-gen2':
      return `shellyplusplugs-${hex(index, 12)}`;
    case 'tasmota-energy':
      return `tasmota_${hex(index, 6).toUpperCase()}`;
    default:
      return `nuki/${hex(index, 8).toUpperCase()}`;
  }
}

/**
 * A valid site of `buildings` buildings (one floor each, named b001, b002, …) with `devicesPerBuilding`
 * devices each, the families taken in turn.
 */
export function syntheticSite(buildings: number, devicesPerBuilding: number): SiteConfig {
  if (!(Number.isInteger(buildings) && buildings > 0 && buildings < 1000))
    throw new Error(`buildings must be an integer 1…999, got ${buildings}`);
  if (!(Number.isInteger(devicesPerBuilding) && devicesPerBuilding > 0 && devicesPerBuilding < 100_000))
    throw new Error(`devicesPerBuilding must be an integer 1…99999, got ${devicesPerBuilding}`);
  const site: SiteConfig = {
    site: {
      id: 'load-test',
      name: 'Load test network',
      timezone: 'Europe/Berlin',
      supplier_co2_g_per_kwh: 380,
    },
    floors: [],
    spaces: [],
    devices: [],
  };
  let index = 0;
  for (let b = 1; b <= buildings; b++) {
    const building = `b${String(b).padStart(3, '0')}`;
    site.floors.push({ id: building, name: `Gebäude ${b}`, level: 0, area_m2: 2000 });
    site.spaces.push(
      {
        id: `${building}-coworking`,
        name: 'Coworking',
        floor: building,
        kind: 'desk_area',
        area_m2: 400,
        capacity: 40,
      },
      { id: `${building}-technik`, name: 'Technik', floor: building, kind: 'technical', area_m2: 20 },
    );
    for (let d = 1; d <= devicesPerBuilding; d++, index++) {
      const profile = LOAD_FAMILIES[index % LOAD_FAMILIES.length] as string;
      const id = `${building}-d${String(d).padStart(5, '0')}`;
      const meter = profile === 'shelly-gen1' || profile === 'shelly-gen2' || profile === 'tasmota-energy';
      site.devices.push({
        id,
        profile,
        topic: loadTopic(profile, id, index),
        space: meter ? `${building}-technik` : `${building}-coworking`,
        ...(profile === 'shelly-gen1' ? { meter_role: 'main' } : meter ? { meter_role: 'plug' } : {}),
      });
    }
  }
  return site;
}

export interface LoadMessage extends DeviceMessage {
  device: string;
  /** The readings this message carries once decoded. */
  quantities: Quantity[];
}

/**
 * The `sequence`-th message of a device: the vendor's own payload, values moving with the sequence
 * (energy counters only ever rise, so the last stored counter tells how many arrived in order).
 */
export function loadMessage(device: DeviceConfig, sequence: number, simNow: number): LoadMessage {
  const t = device.topic;
  const base = { device: device.id, qos: 0 as const, retain: false };
  const wobble = (sequence * 7919) % 100;
  switch (device.profile) {
    case 'zigbee2mqtt-occupancy':
      return {
        ...base,
        topic: t,
        payload: z2mOccupancyPayload({
          occupancy: sequence % 2 === 0,
          illuminance: 100 + wobble,
          battery: 90,
          voltage: 3000,
          linkquality: 100 + (wobble % 50),
        }),
        quantities: ['occupancy', 'illuminance', 'battery', 'linkquality'],
      };
    case 'zigbee2mqtt-air-quality':
      return {
        ...base,
        topic: t,
        payload: z2mAirQualityPayload({
          co2: 450 + wobble * 5,
          temperature: 21 + wobble / 100,
          humidity: 40 + wobble / 10,
          battery: 80,
          linkquality: 120,
        }),
        quantities: ['co2', 'temperature', 'humidity', 'battery', 'linkquality'],
      };
    case 'shelly-gen1':
      return sequence % 2 === 0
        ? {
            ...base,
            topic: `${t}/emeter/0/total`,
            payload: (1000 + sequence * 1.5).toFixed(1),
            quantities: ['energy'],
          }
        : {
            ...base,
            topic: `${t}/emeter/0/power`,
            payload: (500 + wobble).toFixed(2),
            quantities: ['power'],
          };
    case 'shelly-gen2': {
      const power = 20 + wobble;
      const [status] = shellyGen2Messages(
        t,
        {
          source: 'timer',
          output: true,
          apowerW: power,
          voltageV: 230,
          currentA: power / 230,
          totalWh: 100 + sequence * 0.5,
          byMinuteMwh: [power * 16.667, power * 16.667, power * 16.667],
          minuteTs: Math.floor(simNow / 60_000) * 60,
          temperatureC: 35,
        },
        simNow,
      );
      if (!status) throw new Error('Gen2 status message missing');
      return {
        ...base,
        ...status,
        qos: 0,
        quantities: ['power', 'energy', 'voltage', 'current', 'temperature', 'switch'],
      };
    }
    case 'tasmota-energy':
      return {
        ...base,
        topic: `tele/${t}/SENSOR`,
        payload: tasmotaSensorPayload({
          time: new Date(simNow).toISOString().slice(0, 19),
          totalStartTime: '2026-01-01T00:00:00',
          totalKwh: 10 + sequence * 0.001,
          yesterdayKwh: 1.2,
          todayKwh: 0.4,
          periodWh: 1,
          powerW: 40 + wobble,
          voltageV: 230,
          factor: 0.9,
        }),
        quantities: ['energy', 'power', 'voltage', 'current'],
      };
    case 'nuki-mqtt':
      return sequence % 2 === 0
        ? { ...base, topic: `${t}/state`, payload: sequence % 4 === 0 ? '1' : '3', quantities: ['lock'] }
        : {
            ...base,
            topic: `${t}/batteryChargeState`,
            payload: String(60 + (wobble % 40)),
            quantities: ['battery'],
          };
    default:
      throw new Error(`load mode has no messages for profile "${device.profile}"`);
  }
}

export interface LoadOptions {
  mqttUrl: string;
  site: SiteConfig;
  /** One account for all load connections (lab broker or one allowed to publish these topics). */
  credentials?: MqttCredentials | undefined;
  ratePerSecond: number;
  /** How many messages; default ratePerSecond × durationS. */
  count?: number;
  durationS?: number;
  qos: 0 | 1 | 2;
  /** Parallel connections (default 4). */
  connections?: number;
  /** Unacknowledged messages allowed per connection before the generator waits (default 2000). */
  maxInflight?: number;
  clientIdPrefix?: string;
}

export interface LoadReport {
  /** Messages handed to MQTT. */
  sent: number;
  /** Messages whose publish completed (QoS 0: written; QoS 1/2: acknowledged by the broker). */
  completed: number;
  failed: number;
  startedAt: number;
  finishedAt: number;
  /** Messages completed per second over the whole run. */
  achievedRate: number;
  perDevice: Record<string, number>;
  /** Readings the sent messages carry, per device and quantity: what the store must hold. */
  perDeviceQuantity: Record<string, Partial<Record<Quantity, number>>>;
  perQuantity: Partial<Record<Quantity, number>>;
}

export async function publishLoad(options: LoadOptions): Promise<LoadReport> {
  const devices = options.site.devices.filter((d) =>
    (LOAD_FAMILIES as readonly string[]).includes(d.profile),
  );
  if (devices.length === 0) throw new Error('the site has no devices of a family the load mode can publish');
  if (!(options.ratePerSecond > 0)) throw new Error('ratePerSecond must be positive');
  const total = options.count ?? Math.round(options.ratePerSecond * (options.durationS ?? 10));
  if (!(Number.isInteger(total) && total >= 0))
    throw new Error('count (or rate × duration) must be a whole number');
  const prefix = options.clientIdPrefix ?? `wesprint-load-${process.pid}`;
  const maxInflight = options.maxInflight ?? 2000;
  const clients: MqttClient[] = [];
  const inflight: number[] = [];
  for (let i = 0; i < (options.connections ?? 4); i++) {
    clients.push(
      await mqtt.connectAsync(options.mqttUrl, {
        clientId: `${prefix}-${i}`,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        ...(options.credentials ?? {}),
      }),
    );
    inflight.push(0);
  }

  const report: LoadReport = {
    sent: 0,
    completed: 0,
    failed: 0,
    startedAt: Date.now(),
    finishedAt: 0,
    achievedRate: 0,
    perDevice: {},
    perDeviceQuantity: {},
    perQuantity: {},
  };
  const sequence = new Map<string, number>();
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const settle = (connection: number) => (err?: Error) => {
    inflight[connection] = (inflight[connection] ?? 1) - 1;
    if (err) report.failed++;
    else report.completed++;
    if (report.completed + report.failed === total) done();
  };
  if (total === 0) done();

  const start = Date.now();
  let next = 0;
  const pump = () => {
    const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * options.ratePerSecond) + 1);
    while (report.sent < due) {
      const connection = report.sent % clients.length;
      if ((inflight[connection] ?? 0) >= maxInflight) break;
      const device = devices[next % devices.length] as DeviceConfig;
      next++;
      const seq = sequence.get(device.id) ?? 0;
      sequence.set(device.id, seq + 1);
      const m = loadMessage(device, seq, Date.now());
      inflight[connection] = (inflight[connection] ?? 0) + 1;
      report.sent++;
      report.perDevice[m.device] = (report.perDevice[m.device] ?? 0) + 1;
      const q = report.perDeviceQuantity[m.device] ?? {};
      report.perDeviceQuantity[m.device] = q;
      for (const quantity of m.quantities) {
        q[quantity] = (q[quantity] ?? 0) + 1;
        report.perQuantity[quantity] = (report.perQuantity[quantity] ?? 0) + 1;
      }
      clients[connection]?.publish(
        m.topic,
        m.payload,
        { qos: options.qos, retain: false },
        settle(connection),
      );
    }
    if (report.sent < total) setTimeout(pump, 2);
  };
  pump();
  await finished;
  report.finishedAt = Date.now();
  const seconds = Math.max(0.001, (report.finishedAt - report.startedAt) / 1000);
  report.achievedRate = report.completed / seconds;
  await Promise.all(clients.map((c) => c.endAsync()));
  return report;
}
