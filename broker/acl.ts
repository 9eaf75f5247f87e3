import { filterWithin, isValidFilter, isValidTopicName, levelsMatch } from '../building/topic-filter.ts';
import { buildingTopics, ROOT } from '../building/topics.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';

/**
 * Who may publish and subscribe what on the building's broker. Pure: the broker asks, these answer.
 *
 * The principle is least privilege by topic: a sensor can only speak for itself, a lock only listens to
 * its own command topic, and only the building's two services (gateway, API) can send commands — so a
 * stolen sensor password can neither open a door nor read anyone else's data.
 */

/** A grant: the MQTT filters an account may publish to / subscribe within, minus the filters it never may. */
export interface Grant {
  /** Topics the account may publish to (filters, matched against the concrete topic). */
  publish: string[];
  /** Filters a requested subscription must lie within. */
  subscribe: string[];
  /** Filters that win over `publish`: a topic matching one of them is refused. */
  denyPublish: string[];
  /** Filters that win over `subscribe`; partially overlapping subscriptions are granted and filtered on delivery. */
  denySubscribe: string[];
  /** Services may touch `$`-topics when a filter names them; nobody else ever may. */
  dollarTopics: boolean;
}

export type AccountRole =
  | { kind: 'device'; deviceId: string }
  | { kind: 'service'; service: 'gateway' | 'api' }
  | { kind: 'anonymous' };

export type Decision = { allowed: true } | { allowed: false; reason: string };

const ALLOW: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, reason });

// ---------------------------------------------------------------------------------------------------------
// Grants

/** Command topics of every device of the site: what only the gateway may publish to. */
export function deviceCommandFilters(site: SiteConfig, profiles: Map<string, DeviceProfile>): string[] {
  const filters = new Set<string>();
  for (const device of site.devices) {
    const profile = profiles.get(device.profile);
    if (profile) for (const f of profile.acl(device.topic).subscribe) filters.add(f);
  }
  return [...filters];
}

/** Every device's profile must be known: an unknown one is a typo in the site file, said at start. */
export function unknownProfiles(site: SiteConfig, profiles: Map<string, DeviceProfile>): string[] {
  return site.devices.filter((d) => !profiles.has(d.profile)).map((d) => `${d.id} (profile "${d.profile}")`);
}

const BUILDING_ROOT_FILTER = `${ROOT}/#`;
const ANY_BUILDING_COMMAND = `${ROOT}/+/commands/#`;

export function deviceGrant(
  site: SiteConfig,
  profiles: Map<string, DeviceProfile>,
  deviceId: string,
  commandFilters = deviceCommandFilters(site, profiles),
): Grant {
  const device = site.devices.find((d) => d.id === deviceId);
  const profile = device && profiles.get(device.profile);
  if (!device || !profile) {
    return { publish: [], subscribe: [], denyPublish: [], denySubscribe: [], dollarTopics: false };
  }
  const acl = profile.acl(device.topic);
  return {
    publish: acl.publish,
    subscribe: acl.subscribe,
    // Even a profile whose publish filter is too wide must not let a device command itself or another.
    denyPublish: [BUILDING_ROOT_FILTER, ...commandFilters],
    denySubscribe: [BUILDING_ROOT_FILTER],
    dollarTopics: false,
  };
}

export function gatewayGrant(
  site: SiteConfig,
  profiles: Map<string, DeviceProfile>,
  commandFilters = deviceCommandFilters(site, profiles),
): Grant {
  const own = `${buildingTopics(site.site.id).base}/#`;
  const deviceFilters = new Set<string>();
  for (const profile of profiles.values()) for (const f of profile.subscriptions) deviceFilters.add(f);
  return {
    publish: [own, ...commandFilters],
    subscribe: [own, ...deviceFilters],
    denyPublish: [],
    denySubscribe: [],
    dollarTopics: true,
  };
}

export function apiGrant(site: SiteConfig): Grant {
  const topics = buildingTopics(site.site.id);
  return {
    publish: [topics.allCommands],
    subscribe: [`${topics.base}/#`],
    denyPublish: [],
    denySubscribe: [],
    dollarTopics: true,
  };
}

/**
 * Lab mode (BROKER_ALLOW_ANONYMOUS=true): anonymous clients get a conformant, open 3.1.1 broker, except
 * that they can never send or read a command, and never subscribe to the operator's `denySubscribe` filters.
 */
export function anonymousGrant(
  site: SiteConfig,
  profiles: Map<string, DeviceProfile>,
  denySubscribe: string[] = [],
  commandFilters = deviceCommandFilters(site, profiles),
): Grant {
  const commands = [ANY_BUILDING_COMMAND, ...commandFilters];
  return {
    publish: ['#'],
    subscribe: ['#'],
    denyPublish: commands,
    denySubscribe: [...commands, ...denySubscribe],
    dollarTopics: false,
  };
}

export function grantFor(
  role: AccountRole,
  site: SiteConfig,
  profiles: Map<string, DeviceProfile>,
  denySubscribe: string[] = [],
): Grant {
  const commandFilters = deviceCommandFilters(site, profiles);
  switch (role.kind) {
    case 'device':
      return deviceGrant(site, profiles, role.deviceId, commandFilters);
    case 'service':
      return role.service === 'gateway' ? gatewayGrant(site, profiles, commandFilters) : apiGrant(site);
    case 'anonymous':
      return anonymousGrant(site, profiles, denySubscribe, commandFilters);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decisions

/**
 * A grant's filters split into levels once: a site's grants carry every device's command filters (1,420 for
 * 500 devices), and splitting each of them again for every decision made a lab-mode decision cost ~1.4 ms.
 * Keyed by the filter list itself, so a grant built anew gets its own.
 */
const splitFilters = new WeakMap<readonly string[], string[][]>();

function levelsOf(filters: readonly string[]): string[][] {
  let split = splitFilters.get(filters);
  if (split === undefined || split.length !== filters.length) {
    split = filters.map((f) => f.split('/'));
    splitFilters.set(filters, split);
  }
  return split;
}

/** The first of `filters` that matches the topic (given as its levels), or undefined. */
function firstMatch(filters: readonly string[], topic: readonly string[]): string | undefined {
  const split = levelsOf(filters);
  for (let i = 0; i < split.length; i++) if (levelsMatch(split[i] as string[], topic)) return filters[i];
  return undefined;
}

export function mayPublish(grant: Grant, topic: string): Decision {
  if (!isValidTopicName(topic)) return deny('not a valid topic name (wildcards or empty)');
  if (topic.startsWith('$') && !grant.dollarTopics) return deny('$-topics are reserved');
  const levels = topic.split('/');
  const denied = firstMatch(grant.denyPublish, levels);
  if (denied !== undefined) return deny(`topic is reserved (${denied})`);
  if (firstMatch(grant.publish, levels) === undefined) return deny('topic not in the account ACL');
  return ALLOW;
}

export function maySubscribe(grant: Grant, filter: string): Decision {
  if (!isValidFilter(filter)) return deny('not a valid topic filter');
  if (filter.startsWith('$') && !grant.dollarTopics) return deny('$-topics are reserved');
  const denied = grant.denySubscribe.find((f) => filterWithin(filter, f));
  if (denied) return deny(`filter is reserved (${denied})`);
  if (!grant.subscribe.some((f) => filterWithin(filter, f))) return deny('filter not in the account ACL');
  return ALLOW;
}

/**
 * May a message on `topic` be delivered to this account? The last line of defence: it covers
 * partially-denied lab subscriptions (`#` minus commands) and sessions restored from disk.
 */
export function mayReceive(grant: Grant, topic: string): boolean {
  const levels = topic.split('/');
  if (firstMatch(grant.denySubscribe, levels) !== undefined) return false;
  return firstMatch(grant.subscribe, levels) !== undefined;
}
