import type { FacilityOverview, FacilitySpace } from '../../../../api/facility-overview.ts';
import {
  fitsQuantity,
  isAboutSurroundings,
  isQuantity,
  QUANTITY_NAMES,
} from '../../../../building/quantities.ts';
import { counterStep } from '../../../../storage/consumption.ts';

/**
 * The facility view between two loads of GET /api/facility/overview: each message of /api/live changes
 * the one value it is about, whatever its quantity (building/quantities.ts says whether it is about the
 * space or the device itself). A space with several sensors of one kind shows the newest report until the
 * next load applies the server's rule again (worst CO2, anyone present, mean temperature); the page
 * reloads the overview every minute and after each reconnect, so the two never drift apart for long.
 */

export type Co2Level = NonNullable<FacilitySpace['co2Level']>;

/** The same traffic light as the server's, with the thresholds it sends. */
export function co2LevelOf(ppm: number, thresholds: FacilityOverview['co2Thresholds']): Co2Level {
  if (ppm < thresholds.elevatedPpm) return 'good';
  if (ppm <= thresholds.poorPpm) return 'elevated';
  return 'poor';
}

interface LiveReading {
  type: 'reading';
  space: string;
  device: string;
  /** Absent from an older API: channel 0. */
  channel?: string;
  quantity: string;
  value: number | string;
  ts: number;
}

interface LiveDeviceStatus {
  type: 'device-status';
  device: string;
  online: boolean | null;
  lastSeen: number | null;
  battery: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function asReading(m: Record<string, unknown>): LiveReading | null {
  if (m.type !== 'reading') return null;
  if (typeof m.space !== 'string' || typeof m.device !== 'string' || typeof m.quantity !== 'string')
    return null;
  if (typeof m.ts !== 'number' || (typeof m.value !== 'number' && typeof m.value !== 'string')) return null;
  return m as unknown as LiveReading;
}

function asStatus(m: Record<string, unknown>): LiveDeviceStatus | null {
  if (m.type !== 'device-status' || typeof m.device !== 'string') return null;
  return m as unknown as LiveDeviceStatus;
}

function recount(view: FacilityOverview): void {
  const list = view.devices.list;
  view.devices.online = list.filter((d) => d.online === true).length;
  view.devices.offline = list.filter((d) => d.online === false).length;
  view.devices.unknown = list.filter((d) => d.online === null).length;
  view.devices.silent = list.filter((d) => d.silent).length;
}

function retotal(view: FacilityOverview): void {
  const main = view.energy.meters.filter((m) => m.role === 'main');
  const sum = (values: (number | null)[]) => {
    const known = values.filter((v): v is number => v !== null);
    return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
  };
  view.energy.total.powerW = sum(main.map((m) => m.powerW?.value ?? null));
  view.energy.total.todayKwh = sum(main.map((m) => m.todayKwh));
}

type Measure = FacilityOverview['energy']['meters'][number]['powerW'];

/** As the server sums a meter's channels: the newest time, stale when one is. */
function sumOfChannels(values: Measure[]): Measure {
  const known = values.filter((v) => v !== null);
  if (known.length === 0) return null;
  return {
    value: known.reduce((a, v) => a + v.value, 0),
    ts: Math.max(...known.map((v) => v.ts)),
    stale: known.some((v) => v.stale),
  };
}

function applyReading(view: FacilityOverview, r: LiveReading, receivedAt: number): void {
  const device = view.devices.list.find((d) => d.id === r.device);
  if (device) {
    const seen = Math.min(r.ts, receivedAt);
    if (device.lastSeen === null || seen > device.lastSeen) device.lastSeen = seen;
    if (r.quantity === 'battery' && typeof r.value === 'number') device.battery = r.value;
    if (device.silent) {
      device.silent = false;
      recount(view);
    }
  }
  const quantity = r.quantity;
  if (!isQuantity(quantity) || !fitsQuantity(quantity, r.value)) return;
  // A switched output's or a valve's new state: the control that commands it shows it at once.
  if (quantity === 'switch' || quantity === 'setpoint') applyControlState(view, r);

  const meter = view.energy.meters.find((m) => m.device === r.device);
  // A meter's other readings (its own temperature, voltage) say nothing about the room it is in.
  if (meter) {
    if ((quantity !== 'power' && quantity !== 'energy') || typeof r.value !== 'number') return;
    const value = r.value;
    // A meter is the sum of its channels (phases, outputs): the reading updates its channel.
    const id = r.channel ?? '0';
    let channel = meter.channels.find((c) => c.channel === id);
    if (!channel) {
      channel = { channel: id, space: r.space, powerW: null, counterKwh: null };
      meter.channels.push(channel);
    }
    if (quantity === 'power') {
      if (channel.powerW && channel.powerW.ts > r.ts) return;
      channel.powerW = { value, ts: r.ts, stale: false };
      meter.powerW = sumOfChannels(meter.channels.map((c) => c.powerW));
    } else {
      const previous = channel.counterKwh;
      if (previous && previous.ts >= r.ts) return;
      // Same attribution as the store: the step belongs to the day of the later sample.
      if (previous && r.ts >= view.dayStart)
        meter.todayKwh = (meter.todayKwh ?? 0) + counterStep(previous.value, value);
      channel.counterKwh = { value, ts: r.ts, stale: false };
      meter.counterKwh = sumOfChannels(meter.channels.map((c) => c.counterKwh));
    }
    retotal(view);
    return;
  }
  // A battery or radio link is the device's own (device health), not its space's.
  if (!isAboutSurroundings(quantity)) return;

  for (const floor of view.floors) {
    const space = floor.spaces.find((s) => s.id === r.space);
    if (!space) continue;
    // As the server: a radiator valve's temperature is measured at the radiator, the valve's own, not the room's.
    if (
      quantity === 'temperature' &&
      space.controls.some((c) => c.device === r.device && c.kind === 'setpoint')
    )
      return;
    // As the server's newest-wins: a message older than what is shown (replayed after a load) changes nothing.
    const shown = space.readings[quantity];
    if (shown && !shown.stale && shown.ts > r.ts) return;
    space.readings[quantity] = { value: r.value, ts: r.ts, stale: false };
    // A quantity the space had no row for gets one, in the order of the descriptions.
    if (!space.measures.includes(quantity))
      space.measures = QUANTITY_NAMES.filter((q) => q === quantity || space.measures.includes(q));
    if (quantity === 'occupancy') space.occupied = { value: r.value !== 0, ts: r.ts, stale: false };
    else if (quantity === 'co2' && typeof r.value === 'number')
      space.co2Level = co2LevelOf(r.value, view.co2Thresholds);
    return;
  }
}

function applyControlState(view: FacilityOverview, r: LiveReading): void {
  const kind = r.quantity === 'switch' ? 'switch' : 'setpoint';
  for (const floor of view.floors) {
    const space = floor.spaces.find((s) => s.id === r.space);
    const control = space?.controls.find(
      (c) => c.device === r.device && c.channel === (r.channel ?? '0') && c.kind === kind,
    );
    if (!control) continue;
    if (control.state && !control.state.stale && control.state.ts > r.ts) return;
    control.state = { value: r.value, ts: r.ts, stale: false };
    return;
  }
}

function applyStatus(view: FacilityOverview, s: LiveDeviceStatus): void {
  const device = view.devices.list.find((d) => d.id === s.device);
  if (!device) return;
  device.online = s.online;
  if (s.lastSeen !== null && (device.lastSeen === null || s.lastSeen > device.lastSeen)) {
    device.lastSeen = s.lastSeen;
  }
  if (s.battery !== null && s.battery !== undefined) device.battery = s.battery;
  recount(view);
}

/**
 * Applies one message of /api/live to the view in place (a Svelte $state proxy updates what shows it).
 * Returns 'reload' for the greeting of a new connection: what happened while disconnected is not replayed.
 */
export function applyLiveMessage(
  view: FacilityOverview | null,
  message: unknown,
  receivedAt: number,
): 'reload' | 'applied' | 'ignored' {
  if (!isRecord(message)) return 'ignored';
  if (message.type === 'hello') return 'reload';
  if (!view) return 'ignored';
  const reading = asReading(message);
  if (reading) {
    applyReading(view, reading, receivedAt);
    return 'applied';
  }
  const status = asStatus(message);
  if (status) {
    applyStatus(view, status);
    return 'applied';
  }
  return 'ignored';
}
