import fs from 'node:fs';
import path from 'node:path';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { channelSpace } from '../site/channels.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';

/**
 * The flows the embedded Node-RED gets at its first start: the palette's example flows (node-red/examples),
 * each room of the site that the flow is for filled in from the site file, and one WeSprint server (config
 * node) for all of them, pointed at this installation's API with the token made for them. From then on they
 * are the facility manager's: a later start deploys nothing.
 */

export const EXAMPLES_DIR = path.resolve(import.meta.dirname, '../node-red/examples');

/** A device output a flow switches or sets: a device, or one channel of it (`{device, channel}`). */
export type FlowOutput = string | { device: string; channel: string };

/** Rooms → the outputs a flow acts on there, as the flows' ROOMS setting reads them. */
export type FlowRooms = Record<string, FlowOutput[]>;

/** The kinds of room the standby flow switches: rooms a team books, empty between bookings. */
const STANDBY_KINDS: readonly SpaceConfig['kind'][] = ['protel', 'meeting_room'];

/**
 * Every switchable socket output in a Protel or meeting room (a plug in the room, or an output the site file
 * places there; never a main meter's relay), and every radiator valve, by room. Pure.
 */
export function automationRooms(
  site: SiteConfig,
  profiles: ReadonlyMap<string, Pick<DeviceProfile, 'actions'>>,
): { standby: FlowRooms; heating: FlowRooms } {
  const kindOf = new Map(site.spaces.map((s) => [s.id, s.kind]));
  const standby: FlowRooms = {};
  const heating: FlowRooms = {};
  const add = (rooms: FlowRooms, space: string, output: FlowOutput) => {
    rooms[space] = [...(rooms[space] ?? []), output];
  };
  for (const d of site.devices) {
    const actions = d.meter_role === 'main' ? [] : (profiles.get(d.profile)?.actions ?? []);
    if (actions.includes('switch_off') && actions.includes('switch_on') && d.meter_role === 'plug') {
      const channels = d.channels?.length ? d.channels.map((c) => String(c.channel)) : [null];
      for (const channel of channels) {
        const space = channelSpace(d, channel ?? '0');
        if (!STANDBY_KINDS.includes(kindOf.get(space) as SpaceConfig['kind'])) continue;
        add(standby, space, channel === null ? d.id : { device: d.id, channel });
      }
    }
    if (actions.includes('set_setpoint')) add(heating, d.space, d.id);
  }
  return { standby, heating };
}

export interface FirstFlowsOptions {
  site: SiteConfig;
  profiles: ReadonlyMap<string, Pick<DeviceProfile, 'actions'>>;
  /** The API the flows reach, as the Node-RED process reaches it. */
  apiUrl: string;
  /** The integration token made for them (kept encrypted by Node-RED from then on). */
  token: string;
  examplesDir?: string;
}

type FlowNode = Record<string, unknown> & { id: string; type: string };

function example(dir: string, file: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as FlowNode[];
}

function withSetting(tab: FlowNode, name: string, value: string): FlowNode {
  const env = (tab.env as { name: string; value: string; type: string }[]).map((e) =>
    e.name === name ? { ...e, value } : e,
  );
  return { ...tab, env };
}

/**
 * Standby off and heating follows bookings, with this site's rooms, and air, as one deployment (Node-RED's flow
 * file format; the token as the config node's credential, which Node-RED encrypts on deploy). A flow with no
 * room in this site is left out.
 */
export function firstFlows(options: FirstFlowsOptions): FlowNode[] {
  const dir = options.examplesDir ?? EXAMPLES_DIR;
  const rooms = automationRooms(options.site, options.profiles);
  const flows: FlowNode[] = [];
  for (const [file, which] of [
    ['standby-off.json', rooms.standby],
    ['heating-follows-bookings.json', rooms.heating],
  ] as const) {
    if (Object.keys(which).length === 0) continue;
    for (const node of example(dir, file)) {
      // One server for every flow; each example brings its own copy of it.
      if (node.type === 'wesprint-config') continue;
      flows.push(node.type === 'tab' ? withSetting(node, 'ROOMS', JSON.stringify(which)) : node);
    }
  }
  // Air listens to every CO2 reading of the site: it has no rooms to fill in.
  for (const node of example(dir, 'air-notice.json')) if (node.type !== 'wesprint-config') flows.push(node);
  const server = example(dir, 'standby-off.json').find((n) => n.type === 'wesprint-config');
  if (!server) throw new Error('the standby example has no WeSprint server node');
  flows.push({
    ...server,
    name: 'this WeSprint',
    url: options.apiUrl,
    credentials: { token: options.token },
  });
  return flows;
}
