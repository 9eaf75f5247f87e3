import { allEventsFilter } from '../building/events.ts';
import { filterWithin, isValidFilter, isValidTopicName, levelsMatch } from '../building/topic-filter.ts';
import { buildingTopics, ROOT } from '../building/topics.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { asNetwork, type SiteNetwork, siteById } from '../site/network.ts';
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
  /** `siteId` in a network (SITES_DIR), where device ids repeat between sites. */
  | { kind: 'device'; deviceId: string; siteId?: string }
  | { kind: 'service'; service: 'gateway' | 'api' }
  | { kind: 'anonymous' };

export type Decision = { allowed: true } | { allowed: false; reason: string };

const ALLOW: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, reason });

// ---------------------------------------------------------------------------------------------------------
// Grants

/**
 * Command topics of every device of the site (of every site of a network): what only the gateway may publish
 * to. A device of one site may not publish on a lock's command topic of another either.
 */
export function deviceCommandFilters(
  sites: SiteConfig | SiteNetwork,
  profiles: Map<string, DeviceProfile>,
): string[] {
  const filters = new Set<string>();
  for (const site of asNetwork(sites).sites) {
    for (const device of site.devices) {
      const profile = profiles.get(device.profile);
      if (profile) for (const f of profile.acl(device.topic).subscribe) filters.add(f);
    }
  }
  return [...filters];
}

/** Every device's profile must be known: an unknown one is a typo in the site file, said at start. */
export function unknownProfiles(
  sites: SiteConfig | SiteNetwork,
  profiles: Map<string, DeviceProfile>,
): string[] {
  const network = asNetwork(sites);
  return network.sites.flatMap((site) =>
    site.devices
      .filter((d) => !profiles.has(d.profile))
      .map((d) => `${network.qualified ? `${site.site.id}/` : ''}${d.id} (profile "${d.profile}")`),
  );
}

/** The building topics of every site: `wesprint/<site>/#` each. */
function ownFilters(sites: SiteConfig | SiteNetwork): string[] {
  return asNetwork(sites).sites.map((site) => `${buildingTopics(site.site.id).base}/#`);
}

const BUILDING_ROOT_FILTER = `${ROOT}/#`;
const ANY_BUILDING_COMMAND = `${ROOT}/+/commands/#`;
const ANY_BUILDING_EVENT = `${ROOT}/+/events/#`;

function nothingGranted(): Grant {
  return { publish: [], subscribe: [], denyPublish: [], denySubscribe: [], dollarTopics: false };
}

/**
 * What no device may publish on: the building's topics and every device's command topics. One list per list of
 * command filters, shared by every device's grant: a list of its own per device (1,600 devices deny ~2,300
 * filters each) was split into levels once per grant (levelsOf), 0.7 MB a device, which grew with the square of
 * the devices (1.4 GB at 1,600, bench/network.ts) and made each device's first message wait for its split.
 */
const deviceDenyLists = new WeakMap<readonly string[], string[]>();

function deviceDenyPublish(commandFilters: readonly string[]): string[] {
  let list = deviceDenyLists.get(commandFilters);
  if (list === undefined) {
    list = [BUILDING_ROOT_FILTER, ...commandFilters];
    deviceDenyLists.set(commandFilters, list);
  }
  return list;
}

export function deviceGrant(
  site: SiteConfig,
  profiles: Map<string, DeviceProfile>,
  deviceId: string,
  commandFilters = deviceCommandFilters(site, profiles),
): Grant {
  const device = site.devices.find((d) => d.id === deviceId);
  const profile = device && profiles.get(device.profile);
  if (!device || !profile) return nothingGranted();
  const acl = profile.acl(device.topic);
  return {
    publish: acl.publish,
    subscribe: acl.subscribe,
    // Even a profile whose publish filter is too wide must not let a device command itself or another.
    denyPublish: deviceDenyPublish(commandFilters),
    denySubscribe: [BUILDING_ROOT_FILTER],
    dollarTopics: false,
  };
}

/**
 * The gateway (one for every site of a network): each site's building topics, every device's commands. With
 * `journalFeed` (a stand-alone `wesprint broker`, which journals the devices' messages and forwards its journal
 * on that topic: broker/journal-feed.ts) it reads the devices' messages from the feed only: a subscription to
 * their own topics would queue every message twice in its session, once without the journal's identity and
 * arrival time.
 */
export function gatewayGrant(
  sites: SiteConfig | SiteNetwork,
  profiles: Map<string, DeviceProfile>,
  commandFilters = deviceCommandFilters(sites, profiles),
  journalFeed?: string,
): Grant {
  const own = ownFilters(sites);
  const deviceFilters = new Set<string>();
  if (journalFeed === undefined)
    for (const profile of profiles.values()) for (const f of profile.subscriptions) deviceFilters.add(f);
  else deviceFilters.add(journalFeed);
  return {
    publish: [...own, ...commandFilters],
    subscribe: [...own, ...deviceFilters],
    denyPublish: [],
    denySubscribe: [],
    dollarTopics: true,
  };
}

export function apiGrant(sites: SiteConfig | SiteNetwork): Grant {
  return {
    // Commands, and the building's events (bookings, alerts, doors) that the API and its watchers tell.
    publish: asNetwork(sites).sites.flatMap((site) => [
      buildingTopics(site.site.id).allCommands,
      allEventsFilter(site.site.id),
    ]),
    subscribe: ownFilters(sites),
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
  sites: SiteConfig | SiteNetwork,
  profiles: Map<string, DeviceProfile>,
  denySubscribe: string[] = [],
  commandFilters = deviceCommandFilters(sites, profiles),
): Grant {
  const commands = [ANY_BUILDING_COMMAND, ...commandFilters];
  return {
    publish: ['#'],
    subscribe: ['#'],
    // The building's events drive automations (heating, plugs): only the API tells them.
    denyPublish: [...commands, ANY_BUILDING_EVENT],
    denySubscribe: [...commands, ...denySubscribe],
    dollarTopics: false,
  };
}

/**
 * An account's grant. In a network a device's grant is built from its own site's file only (its role names
 * the site), with every site's command topics denied; the services' grants span every site.
 */
export function grantFor(
  role: AccountRole,
  sites: SiteConfig | SiteNetwork,
  profiles: Map<string, DeviceProfile>,
  denySubscribe: string[] = [],
  commandFilters = deviceCommandFilters(sites, profiles),
  /** The broker forwards its journal on this topic (see gatewayGrant). */
  journalFeed?: string,
): Grant {
  const network = asNetwork(sites);
  switch (role.kind) {
    case 'device': {
      const site = role.siteId === undefined ? network.sites[0] : siteById(network, role.siteId);
      if (!site) return nothingGranted();
      return deviceGrant(site, profiles, role.deviceId, commandFilters);
    }
    case 'service':
      return role.service === 'gateway'
        ? gatewayGrant(network, profiles, commandFilters, journalFeed)
        : apiGrant(network);
    case 'anonymous':
      return anonymousGrant(network, profiles, denySubscribe, commandFilters);
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
