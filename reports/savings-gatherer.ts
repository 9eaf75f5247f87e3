import type { AuditEntry, AuditLog } from '../access/audit-log.ts';
import { channelSpace } from '../site/channels.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import {
  type AutomationSavings,
  automationSavings,
  confirmedCommands,
  type HourFigure,
  powerKey,
  setbackSpans,
  switchedOffSpans,
} from './automation-savings.ts';
import { HOUR_MS } from './gathered-series.ts';

/**
 * What automations saved in one period, read where it is kept: the commands from the audit log (the
 * commands route audits every one, with who sent it and the device's confirmation), the outputs' hourly
 * mean power and the valves' hourly setpoints from the time-series store (rollups past raw retention). The
 * arithmetic is automation-savings.ts's.
 */

/**
 * How far before the period commands are read: an output switched off (or a room set back) before the period
 * began and still off in it counts from the period's start. A span begun earlier than this is missed.
 */
export const SAVINGS_LOOKBACK_MS = 35 * 24 * HOUR_MS;

/** The audit log's device commands of [from, to), every page of them. */
async function deviceCommands(
  audit: Pick<AuditLog, 'query'>,
  from: number,
  to: number,
): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await audit.query({
      action: 'device_command',
      decision: 'granted',
      from,
      to,
      limit: 500,
      ...(before === undefined ? {} : { before }),
    });
    entries.push(...page.entries);
    if (page.next === null) return entries;
    before = page.next;
  }
}

export async function gatherSavings(
  sources: { site: SiteConfig; store: TimeSeriesStore; audit: Pick<AuditLog, 'query'> },
  range: { from: number; to: number },
  factors: { locationGPerKwh: number; marketGPerKwh: number | null },
): Promise<AutomationSavings> {
  const { site, store, audit } = sources;
  const readFrom = range.from - SAVINGS_LOOKBACK_MS;
  const devices = new Map(site.devices.map((d) => [d.id, d]));
  // One audit log serves a network of sites: this site's devices only.
  const commands = confirmedCommands(await deviceCommands(audit, readFrom, range.to)).filter((c) =>
    devices.has(c.device),
  );
  const automated = (action: string) => [
    ...new Set(commands.filter((c) => c.byAutomation && c.action === action).map((c) => c.device)),
  ];
  // One query per device an automation switched or set: a handful, not the building.
  const hourly = { from: readFrom - HOUR_MS, to: range.to, bucketMs: HOUR_MS };
  const [power, setpoint] = await Promise.all([
    Promise.all(
      automated('switch_off').map((device) =>
        store.query({ quantity: 'power', device, ...hourly, aggregate: 'mean' }),
      ),
    ),
    Promise.all(
      automated('set_setpoint').map((device) =>
        store.query({ quantity: 'setpoint', device, ...hourly, aggregate: 'last' }),
      ),
    ),
  ]);
  const powerByOutput = new Map<string, HourFigure[]>();
  for (const s of power.flat()) powerByOutput.set(powerKey(s.device, s.channel), s.points);
  const setpoints = new Map<string, HourFigure[]>();
  for (const s of setpoint.flat()) if (s.channel === '0') setpoints.set(s.device, s.points);

  const spaces = new Map(site.spaces.map((s) => [s.id, s]));
  return automationSavings(
    switchedOffSpans(commands, powerByOutput, range),
    setbackSpans(commands, setpoints, range),
    {
      spaceOf: (device, channel) => {
        const config = devices.get(device);
        return config ? channelSpace(config, channel) : device;
      },
      heatLossOf: (space) => spaces.get(space)?.heat_loss_w_per_k,
      locationGPerKwh: factors.locationGPerKwh,
      marketGPerKwh: factors.marketGPerKwh,
      heatingGPerKwh: site.site.heating_co2_g_per_kwh ?? null,
    },
  );
}
