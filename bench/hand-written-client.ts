import mqtt from 'mqtt';
import { type Quantity, unitOf } from '../building/quantities.ts';
import { FIRST_CHANNEL } from '../building/reading.ts';
import type { SiteConfig } from '../site/site.ts';
import type { StoredReading } from '../storage/store.ts';

/**
 * Reference B of issue 10: what someone would write by hand instead of WeSprint's gateway. An MQTT.js client
 * with a clean session subscribes to the load devices' topics, decodes each vendor payload minimally (a topic
 * lookup and JSON.parse, no validation, no quarantine, no spool, no republishing, no device health), stamps
 * the readings with their arrival time, and hands them to the store in batches of 1,000 points (or what has
 * gathered every 200 ms, the spool's flush interval), each batch sent as soon as it is full, without waiting
 * for the one before (as a Node-RED batch node does). MQTT.js acknowledges a QoS 1 message as soon as its
 * handler has run, before the reading is stored: this reference promises nothing when it dies.
 *
 * It speaks only the load mode's messages (load-mode/synthetic-buildings.ts), in the same units as the device profiles.
 */

/** The device topics of the load families, non-overlapping (an overlapping pair would deliver twice). */
export const DEVICE_FILTERS = [
  'zigbee2mqtt/+',
  'shellies/+/emeter/+/+',
  '+/status/+',
  'tele/+/SENSOR',
  'nuki/+/+',
];

type Decode = (payload: string) => [Quantity, number | string][];

const number =
  (q: Quantity, scale = 1): Decode =>
  (p) => [[q, Number(p) * scale]];
const NUKI_STATES: Record<string, string> = { '1': 'locked', '3': 'unlocked' };

/** topic -> decoder, one entry per topic a load device publishes on. */
function topicTable(site: SiteConfig): Map<string, { device: string; space: string; decode: Decode }> {
  const table = new Map<string, { device: string; space: string; decode: Decode }>();
  for (const d of site.devices) {
    const add = (topic: string, decode: Decode) => table.set(topic, { device: d.id, space: d.space, decode });
    const t = d.topic;
    switch (d.profile) {
      case 'zigbee2mqtt-occupancy':
        add(t, (p) => {
          const j = JSON.parse(p);
          return [
            ['occupancy', j.occupancy ? 1 : 0],
            ['illuminance', j.illuminance],
            ['battery', j.battery],
            ['linkquality', j.linkquality],
          ];
        });
        break;
      case 'zigbee2mqtt-air-quality':
        add(t, (p) => {
          const j = JSON.parse(p);
          return [
            ['co2', j.co2],
            ['temperature', j.temperature],
            ['humidity', j.humidity],
            ['battery', j.battery],
            ['linkquality', j.linkquality],
          ];
        });
        break;
      case 'shelly-gen1':
        add(`${t}/emeter/0/total`, number('energy', 1 / 1000));
        add(`${t}/emeter/0/power`, number('power'));
        break;
      case 'shelly-gen2':
        add(`${t}/status/switch:0`, (p) => {
          const j = JSON.parse(p);
          return [
            ['power', j.apower],
            ['energy', j.aenergy.total / 1000],
            ['voltage', j.voltage],
            ['current', j.current],
            ['temperature', j.temperature.tC],
            // The output's state, the `switch` reading the profile takes from `output`.
            ...(typeof j.output === 'boolean'
              ? [['switch', j.output ? 'on' : 'off'] as [Quantity, string]]
              : []),
          ];
        });
        break;
      case 'tasmota-energy':
        add(`tele/${t}/SENSOR`, (p) => {
          const e = JSON.parse(p).ENERGY;
          return [
            ['energy', e.Total],
            ['power', e.Power],
            ['voltage', e.Voltage],
            ['current', e.Current],
          ];
        });
        break;
      case 'nuki-mqtt':
        add(`${t}/state`, (p) => [['lock', NUKI_STATES[p] ?? p]]);
        add(`${t}/batteryChargeState`, number('battery'));
        break;
    }
  }
  return table;
}

export interface HandWrittenClient {
  readonly counters: {
    messages: number;
    /** Readings decoded and handed to a batch. */
    readings: number;
    /** Readings whose batch the store acknowledged. */
    written: number;
    /** Readings whose batch the store refused. */
    failed: number;
    /** Messages on a topic the table does not know. */
    unknown: number;
    batches: number;
  };
  /** Errors of refused batches, the first few. */
  readonly errors: string[];
  /** Called after each message and after each acknowledged batch (the bench's milestones listen). */
  onProgress: () => void;
  stop(): Promise<void>;
}

export const BATCH_POINTS = 1000;
const FLUSH_MS = 200;

export async function startHandWrittenClient(options: {
  url: string;
  site: SiteConfig;
  /** Stores one batch; rejects when the store refuses it. */
  write: (batch: StoredReading[]) => Promise<void>;
}): Promise<HandWrittenClient> {
  const table = topicTable(options.site);
  const siteId = options.site.site.id;
  const client = await mqtt.connectAsync(options.url, {
    clientId: `bench-hand-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
  });
  const granted = await client.subscribeAsync(DEVICE_FILTERS, { qos: 1 });
  if (granted.some((g) => g.qos === 128)) throw new Error('the broker refused a subscription');
  const counters = { messages: 0, readings: 0, written: 0, failed: 0, unknown: 0, batches: 0 };
  const errors: string[] = [];
  const pending = new Set<Promise<void>>();
  let batch: StoredReading[] = [];
  const self: HandWrittenClient = {
    counters,
    errors,
    onProgress: () => {},
    async stop() {
      clearInterval(timer);
      send();
      await Promise.all(pending);
      await client.endAsync();
    },
  };
  const send = () => {
    if (batch.length === 0) return;
    const out = batch;
    batch = [];
    counters.batches++;
    const done = options.write(out).then(
      () => {
        counters.written += out.length;
        self.onProgress();
      },
      (err: Error) => {
        counters.failed += out.length;
        if (errors.length < 5) errors.push(err.message);
      },
    );
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };
  const timer = setInterval(send, FLUSH_MS);
  client.on('message', (topic, payload) => {
    counters.messages++;
    const entry = table.get(topic);
    if (entry === undefined) {
      counters.unknown++;
    } else {
      const ts = Date.now();
      for (const [quantity, value] of entry.decode(payload.toString())) {
        batch.push({
          site: siteId,
          space: entry.space,
          device: entry.device,
          channel: FIRST_CHANNEL,
          quantity,
          value,
          unit: unitOf(quantity),
          ts,
        });
        counters.readings++;
      }
      if (batch.length >= BATCH_POINTS) send();
    }
    self.onProgress();
  });
  return self;
}

/** Line protocol, InfluxV1Store's schema (measurement per quantity; channel 0 without a tag). */
function lineOf(r: StoredReading): string {
  const tag = (v: string) => v.replace(/[,= ]/g, (c) => `\\${c}`);
  const field =
    typeof r.value === 'number'
      ? `value=${r.value}`
      : `state="${r.value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return `${tag(r.quantity)},site=${tag(r.site)},space=${tag(r.space)},device=${tag(r.device)},unit=${tag(r.unit)} ${field} ${Math.round(r.ts)}`;
}

/** A batch to InfluxDB's v1 /write, one HTTP request (the database's default retention policy). */
export function influxWriter(url: string, database: string): (batch: StoredReading[]) => Promise<void> {
  const endpoint = `${url}/write?db=${encodeURIComponent(database)}&precision=ms`;
  return async (batch) => {
    const res = await fetch(endpoint, { method: 'POST', body: batch.map(lineOf).join('\n') });
    if (res.status !== 204) throw new Error(`InfluxDB /write answered ${res.status}: ${await res.text()}`);
  };
}
