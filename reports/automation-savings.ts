/**
 * What automations saved: energy not used because an automation switched an output off or set a room's
 * heating back. Neither is measured — what was not used leaves no reading — so both are estimates, each with
 * its method written into the report beside the figure, and kept apart from the metered electricity.
 *
 * Where it comes from: every command of the commands route is in the audit log (`device_command`, granted,
 * `confirmed` once the device reported the state asked for), with who sent it — an automation is an
 * integration token (Node-RED's "command out"), `token:<id>`; a member's click in the facility view is not
 * an automation. The outputs' power and the valves' setpoints are the store's hourly figures.
 *
 * Switched off (electricity): an output an automation switched off stays off until the next confirmed
 * switch_on of that output (whoever sent it), or until the output is seen drawing power again (someone
 * pressed its button: an hour wholly inside the span whose mean power is above ON_POWER_W ends the span at
 * that hour's start), or the end of the period. What it would have drawn is its mean power in the whole
 * hour before it was switched off (the clock hour before the one it was switched off in):
 *     saved kWh = P_before (W) × hours off / 1000.
 * A load that would have changed on its own (a monitor going to sleep) is not known: P_before holds for the
 * whole span. Without a power figure for that hour the span is counted, but not estimated.
 *
 * Set back (heat): a thermostat measures no heat. A steady-state degree-hours model: a room loses
 * H·(T_inside − T_outside) watts, H its heat-loss coefficient (the site file's `heat_loss_w_per_k`, W/K), so
 * holding it ΔT lower for t hours saves H·ΔT·t Wh of heat, whatever the weather:
 *     saved kWh (heat) = H (W/K) × Σ (baseline − setpoint) (K) × hours / 1000.
 * The baseline is the setpoint in force before an automation first lowered it (the previous command's, else
 * the store's last setpoint of an hour before); further lowering by an
 * automation deepens the setback against the same baseline (21 → 16 → 8 °C counts 5 K, then 13 K); the
 * setback ends when any command sets the baseline or more, or a member sets any setpoint (a person took
 * over). The room in fact cools with a lag and is heated back up before the next booking, so this is an
 * upper bound of the heat saved; it counts heat delivered to the room, the site's `heating_co2_g_per_kwh`
 * turns it into CO2e.
 */

import type { AuditEntry } from '../access/audit-log.ts';
import { rounded } from './board-figures.ts';
import type { ReportTableOf, SavedByAutomationsOut } from './board-report-schema.ts';
import { HOUR_MS } from './gathered-series.ts';
import { co2Kg } from './meter-energy.ts';

/** Above this mean power an output counts as on (a switched-off plug measures 0 W). */
export const ON_POWER_W = 1;

export const SWITCHED_OFF_METHOD =
  'estimated: the output’s measured mean power in the hour before an automation switched it off × the hours it stayed off';
export const SET_BACK_METHOD =
  'estimated (degree-hours model): the room’s heat-loss coefficient from the site file (W/K) × the setpoint reduction (K) × the hours it lasted';

export type SavingCommandAction = 'switch_on' | 'switch_off' | 'set_setpoint';

/** A command a device confirmed, as the audit log keeps it. */
export interface ConfirmedCommand {
  at: number;
  device: string;
  channel: string;
  action: SavingCommandAction;
  value?: number;
  /** Sent by an integration token (an automation), not by a member. */
  byAutomation: boolean;
}

/** The commands the devices confirmed, oldest first, from the audit log's `device_command` entries. */
export function confirmedCommands(entries: readonly AuditEntry[]): ConfirmedCommand[] {
  const out: ConfirmedCommand[] = [];
  for (const e of entries) {
    if (e.action !== 'device_command' || e.decision !== 'granted' || e.reason !== 'confirmed') continue;
    if (e.target === null) continue;
    const action = e.detail.action;
    if (action !== 'switch_on' && action !== 'switch_off' && action !== 'set_setpoint') continue;
    const value = e.detail.value;
    if (action === 'set_setpoint' && (typeof value !== 'number' || !Number.isFinite(value))) continue;
    out.push({
      at: e.at,
      device: e.target,
      channel: typeof e.detail.channel === 'string' ? e.detail.channel : '0',
      action,
      ...(typeof value === 'number' ? { value } : {}),
      byAutomation: e.actor?.startsWith('token:') === true,
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** An hourly figure of one output or valve: the hour's start and its mean (power) or last (setpoint). */
export interface HourFigure {
  ts: number;
  value: number;
}

export interface Range {
  from: number;
  to: number;
}

/** One span an output stayed off after an automation switched it off, clipped to the period. */
export interface OffSpan {
  device: string;
  channel: string;
  from: number;
  to: number;
  /** Mean power of the hour before it was switched off; null without a figure for that hour. */
  powerBeforeW: number | null;
  /** powerBeforeW × hours / 1000; null when powerBeforeW is. */
  kwh: number | null;
}

const key = (device: string, channel: string) => `${device}\u0000${channel}`;
const floorHour = (ts: number) => Math.floor(ts / HOUR_MS) * HOUR_MS;

/** The hourly figure of the clock hour before the one `at` falls in. */
function hourBefore(points: readonly HourFigure[] | undefined, at: number): number | null {
  const wanted = floorHour(at) - HOUR_MS;
  return points?.find((p) => p.ts === wanted)?.value ?? null;
}

/** The latest hourly figure of an hour before the one `at` falls in: a setpoint holds until changed. */
function lastBefore(points: readonly HourFigure[] | undefined, at: number): number | null {
  let found: HourFigure | undefined;
  for (const p of points ?? []) if (p.ts < floorHour(at) && (!found || p.ts > found.ts)) found = p;
  return found?.value ?? null;
}

/** The first hour wholly inside [from, to) whose mean power says the output was on: the span ends there. */
function seenOnAt(points: readonly HourFigure[] | undefined, from: number, to: number): number | null {
  for (const p of points ?? []) if (p.ts >= from && p.ts + HOUR_MS <= to && p.value > ON_POWER_W) return p.ts;
  return null;
}

/**
 * The spans the outputs stayed off after an automation switched them off, within `range` (commands before
 * it count for the spans that reach into it). `power` holds each output's hourly mean power by
 * `device`/`channel` (see `powerKey`).
 */
export function switchedOffSpans(
  commands: readonly ConfirmedCommand[],
  power: ReadonlyMap<string, readonly HourFigure[]>,
  range: Range,
): OffSpan[] {
  const spans: OffSpan[] = [];
  const open = new Map<string, ConfirmedCommand>();
  const close = (off: ConfirmedCommand, end: number) => {
    const points = power.get(key(off.device, off.channel));
    const seen = seenOnAt(points, off.at, end);
    const to = Math.min(seen ?? end, end, range.to);
    const from = Math.max(off.at, range.from);
    if (to <= from) return;
    const powerBeforeW = hourBefore(points, off.at);
    spans.push({
      device: off.device,
      channel: off.channel,
      from,
      to,
      powerBeforeW,
      kwh: powerBeforeW === null ? null : (powerBeforeW * (to - from)) / HOUR_MS / 1000,
    });
  };
  for (const c of commands) {
    if (c.action === 'set_setpoint') continue;
    const k = key(c.device, c.channel);
    const off = open.get(k);
    if (c.action === 'switch_on') {
      if (off) close(off, c.at);
      open.delete(k);
    } else if (c.byAutomation) {
      // Switched off again while off: the first command's span goes on, unless the output was seen on in
      // between (switched on at its button), which ended it.
      if (!off) open.set(k, c);
      else if (seenOnAt(power.get(k), off.at, c.at) !== null) {
        close(off, c.at);
        open.set(k, c);
      }
    }
  }
  for (const off of open.values()) close(off, range.to);
  return spans.sort((a, b) => a.from - b.from);
}

export function powerKey(device: string, channel: string): string {
  return key(device, channel);
}

/** One span a room's heating was set back by an automation, clipped to the period. */
export interface SetbackSpan {
  device: string;
  from: number;
  to: number;
  baselineC: number;
  setpointC: number;
  /** (baseline − setpoint) × hours. */
  degreeHours: number;
}

/**
 * The spans the valves were set back by an automation within `range`. `setpoints` holds each valve's hourly
 * last setpoint: the setpoint before the first command seen, the latest hour before it that has one.
 */
export function setbackSpans(
  commands: readonly ConfirmedCommand[],
  setpoints: ReadonlyMap<string, readonly HourFigure[]>,
  range: Range,
): SetbackSpan[] {
  const spans: SetbackSpan[] = [];
  const state = new Map<string, { setpoint: number; baseline: number | null; since: number }>();
  const emit = (
    device: string,
    s: { setpoint: number; baseline: number | null; since: number },
    end: number,
  ) => {
    if (s.baseline === null || s.setpoint >= s.baseline) return;
    const from = Math.max(s.since, range.from);
    const to = Math.min(end, range.to);
    if (to <= from) return;
    spans.push({
      device,
      from,
      to,
      baselineC: s.baseline,
      setpointC: s.setpoint,
      degreeHours: ((s.baseline - s.setpoint) * (to - from)) / HOUR_MS,
    });
  };
  for (const c of commands) {
    if (c.action !== 'set_setpoint' || c.value === undefined) continue;
    const before = state.get(c.device);
    if (before) emit(c.device, before, c.at);
    const previous = before?.setpoint ?? lastBefore(setpoints.get(c.device), c.at);
    let baseline = before?.baseline ?? null;
    if (!c.byAutomation) baseline = null;
    else if (baseline === null) baseline = previous !== null && c.value < previous ? previous : null;
    if (baseline !== null && c.value >= baseline) baseline = null;
    state.set(c.device, { setpoint: c.value, baseline, since: c.at });
  }
  for (const [device, s] of state) emit(device, s, range.to);
  return spans.sort((a, b) => a.from - b.from);
}

/** The heat a setback saved, kWh: H (W/K) × degree-hours (K·h) / 1000. */
export function heatSavedKwh(heatLossWPerK: number, degreeHours: number): number {
  return (heatLossWPerK * degreeHours) / 1000;
}

/** What the report needs to know of the site to price the spans. */
export interface SavingsSite {
  /** The space an output (device, channel) or a valve (device, '0') serves. */
  spaceOf(device: string, channel: string): string;
  /** The site file's heat_loss_w_per_k of a space, if it gives one. */
  heatLossOf(space: string): number | undefined;
  /** g CO2e per kWh: electricity location- and market-based, heat delivered; null where unknown. */
  locationGPerKwh: number;
  marketGPerKwh: number | null;
  heatingGPerKwh: number | null;
}

/** Per output switched off, or per room set back: what the report's table lists. */
export interface SavingRow {
  kind: 'switched_off' | 'set_back';
  device: string;
  channel: string;
  space: string;
  spans: number;
  hours: number;
  /** Switched off: the hours-weighted power before; null when no span had one. */
  powerBeforeW: number | null;
  /** Set back: Σ reduction × hours. */
  degreeHours: number | null;
  heatLossWPerK: number | null;
  /** Electricity not used, or heat not delivered; null when it cannot be estimated. */
  kwh: number | null;
  /** Location-based for electricity; the site's heating factor for heat. */
  co2Kg: number | null;
}

export interface AutomationSavings {
  switchedOff: {
    kwh: number | null;
    co2LocationKg: number | null;
    co2MarketKg: number | null;
    hours: number;
    outputs: number;
    spans: number;
    /** Spans without a power figure for the hour before: counted in hours, not in kWh. */
    spansWithoutPower: number;
  };
  setBack: {
    heatKwh: number | null;
    co2Kg: number | null;
    degreeHours: number;
    rooms: number;
    spans: number;
    /** Rooms set back whose space has no heat_loss_w_per_k: in degree-hours, not in kWh. */
    roomsWithoutHeatLoss: string[];
  };
  rows: SavingRow[];
}

const sumOrNull = (values: readonly (number | null)[]): number | null =>
  values.some((v) => v !== null) ? values.reduce<number>((sum, v) => sum + (v ?? 0), 0) : null;

/** The spans priced and added up, per output and room and in all. */
export function automationSavings(
  off: readonly OffSpan[],
  setback: readonly SetbackSpan[],
  site: SavingsSite,
): AutomationSavings {
  const rows: SavingRow[] = [];
  const outputs = new Map<string, OffSpan[]>();
  for (const span of off) {
    const k = key(span.device, span.channel);
    outputs.set(k, [...(outputs.get(k) ?? []), span]);
  }
  for (const spans of outputs.values()) {
    const { device, channel } = spans[0] as OffSpan;
    const hours = spans.reduce((sum, x) => sum + (x.to - x.from) / HOUR_MS, 0);
    const known = spans.filter((x) => x.powerBeforeW !== null);
    const knownHours = known.reduce((sum, x) => sum + (x.to - x.from) / HOUR_MS, 0);
    const kwh = sumOrNull(spans.map((x) => x.kwh));
    rows.push({
      kind: 'switched_off',
      device,
      channel,
      space: site.spaceOf(device, channel),
      spans: spans.length,
      hours,
      powerBeforeW:
        knownHours > 0
          ? known.reduce((sum, x) => sum + (x.powerBeforeW as number) * ((x.to - x.from) / HOUR_MS), 0) /
            knownHours
          : null,
      degreeHours: null,
      heatLossWPerK: null,
      kwh,
      co2Kg: co2Kg(kwh, site.locationGPerKwh),
    });
  }
  const valves = new Map<string, SetbackSpan[]>();
  for (const span of setback) valves.set(span.device, [...(valves.get(span.device) ?? []), span]);
  const withoutHeatLoss = new Set<string>();
  for (const [device, spans] of valves) {
    const space = site.spaceOf(device, '0');
    const heatLoss = site.heatLossOf(space) ?? null;
    if (heatLoss === null) withoutHeatLoss.add(space);
    const degreeHours = spans.reduce((sum, x) => sum + x.degreeHours, 0);
    const kwh = heatLoss === null ? null : heatSavedKwh(heatLoss, degreeHours);
    rows.push({
      kind: 'set_back',
      device,
      channel: '0',
      space,
      spans: spans.length,
      hours: spans.reduce((sum, x) => sum + (x.to - x.from) / HOUR_MS, 0),
      powerBeforeW: null,
      degreeHours,
      heatLossWPerK: heatLoss,
      kwh,
      co2Kg: co2Kg(kwh, site.heatingGPerKwh),
    });
  }
  const switched = rows.filter((r) => r.kind === 'switched_off');
  const heated = rows.filter((r) => r.kind === 'set_back');
  const electricity = sumOrNull(switched.map((r) => r.kwh));
  const heat = sumOrNull(heated.map((r) => r.kwh));
  return {
    switchedOff: {
      kwh: electricity,
      co2LocationKg: co2Kg(electricity, site.locationGPerKwh),
      co2MarketKg: co2Kg(electricity, site.marketGPerKwh),
      hours: switched.reduce((sum, r) => sum + r.hours, 0),
      outputs: switched.length,
      spans: off.length,
      spansWithoutPower: off.filter((x) => x.powerBeforeW === null).length,
    },
    setBack: {
      heatKwh: heat,
      co2Kg: co2Kg(heat, site.heatingGPerKwh),
      degreeHours: heated.reduce((sum, r) => sum + (r.degreeHours ?? 0), 0),
      rooms: heated.length,
      spans: setback.length,
      roomsWithoutHeatLoss: [...withoutHeatLoss].sort(),
    },
    rows,
  };
}

/** The report's `savedByAutomations`: the totals, rounded as the report rounds, each with its method. */
export function savedByAutomationsOut(
  savings: AutomationSavings,
  heatingGPerKwh: number | null,
): SavedByAutomationsOut {
  const { switchedOff: off, setBack: back } = savings;
  return {
    switchedOff: {
      kwh: rounded(off.kwh, 'kWh'),
      co2LocationKg: rounded(off.co2LocationKg, 'kg'),
      co2MarketKg: rounded(off.co2MarketKg, 'kg'),
      hours: rounded(off.hours, 'h') ?? 0,
      outputs: off.outputs,
      spans: off.spans,
      spansWithoutPower: off.spansWithoutPower,
      method: SWITCHED_OFF_METHOD,
    },
    setBack: {
      heatKwh: rounded(back.heatKwh, 'kWh'),
      co2Kg: rounded(back.co2Kg, 'kg'),
      heatingGPerKwh,
      degreeHours: rounded(back.degreeHours, 'h') ?? 0,
      rooms: back.rooms,
      spans: back.spans,
      roomsWithoutHeatLoss: back.roomsWithoutHeatLoss,
      method: SET_BACK_METHOD,
    },
  };
}

/** The report's table `saved-by-automations`: one row per output switched off and per room set back. */
export function savedByAutomationsTable(savings: AutomationSavings): ReportTableOf<'saved-by-automations'> {
  return {
    id: 'saved-by-automations',
    columns: [
      { key: 'saving' },
      { key: 'device' },
      { key: 'channel' },
      { key: 'space' },
      { key: 'spans' },
      { key: 'hours', unit: 'h' },
      { key: 'powerBeforeW', unit: 'W' },
      { key: 'degreeHours', unit: 'K·h' },
      { key: 'heatLossWPerK', unit: 'W/K' },
      { key: 'savedKwh', unit: 'kWh' },
      { key: 'co2Kg', unit: 'kg' },
    ],
    rows: savings.rows.map((r) => ({
      saving: r.kind,
      device: r.device,
      channel: r.channel,
      space: r.space,
      spans: r.spans,
      hours: rounded(r.hours, 'h'),
      powerBeforeW: rounded(r.powerBeforeW, 'W'),
      degreeHours: rounded(r.degreeHours, 'h'),
      heatLossWPerK: r.heatLossWPerK,
      savedKwh: rounded(r.kwh, 'kWh'),
      co2Kg: rounded(r.co2Kg, 'kg'),
    })),
  };
}
