import type { DeviceConfig, SiteConfig } from './site.ts';

/**
 * The sites one installation serves. `SITE_FILE` is one site, exactly as it always was; `SITES_DIR` (a folder
 * of site files) is a network of several, sharing one broker, one gateway, one store and one set of records.
 *
 * Device ids, which are also the MQTT user names of a lone site, may repeat between the sites of a network,
 * so in a network every key of a device carries its site (`qualified`):
 * - its account on the broker is `<site>/<device>` (a `username` the site file pins is kept as written, and
 *   must then be unique in the whole network);
 * - its generated password in `DATA_DIR/secrets.json` is kept under `<site>/<device>`;
 * - its series in the stores is (site, device, channel, quantity), as for a lone site;
 * - its building topics are its site's, `wesprint/<site>/…`.
 * The devices' own (vendor) base topics must be unique in the whole network: they are the devices' addresses
 * on the shared broker, which is what the ACL lets each device publish on and how the gateway finds a
 * message's device.
 *
 * The mode is the installation's (SITES_DIR or not), not the number of its sites: adding a site to a network
 * does not rename the accounts of the sites already in it.
 */
export interface SiteNetwork {
  readonly sites: readonly SiteConfig[];
  /** SITES_DIR: device accounts and secrets are `<site>/<device>`. */
  readonly qualified: boolean;
}

/** A lone site file is a network of one whose keys are as they always were. */
export function asNetwork(sites: SiteConfig | SiteNetwork): SiteNetwork {
  return 'sites' in sites ? sites : { sites: [sites], qualified: false };
}

/** A network's sites, in their folder's order (the first is the home site of the parts that serve one). */
export function networkOf(sites: readonly SiteConfig[]): SiteNetwork {
  return { sites, qualified: true };
}

/** The key of a device across the installation: its id for a lone site, `<site>/<device>` in a network. */
export function deviceKey(network: SiteNetwork, siteId: string, deviceId: string): string {
  return network.qualified ? `${siteId}/${deviceId}` : deviceId;
}

/** The MQTT user name a device signs in with. */
export function deviceAccountName(network: SiteNetwork, siteId: string, device: DeviceConfig): string {
  return device.username ?? deviceKey(network, siteId, device.id);
}

export function siteById(network: SiteNetwork, siteId: string): SiteConfig | undefined {
  return network.sites.find((s) => s.site.id === siteId);
}

/**
 * What must hold between the sites of a network: each site id once, each device base topic once (a device's
 * address on the shared broker), each MQTT user name once. Returns the problems, empty when there are none.
 */
export function networkProblems(network: SiteNetwork): string[] {
  const problems: string[] = [];
  const sites = new Set<string>();
  const topics = new Map<string, string>();
  const accounts = new Map<string, string>();
  for (const site of network.sites) {
    const id = site.site.id;
    if (sites.has(id)) problems.push(`site id "${id}" is used by two site files`);
    sites.add(id);
    for (const device of site.devices) {
      const where = `${id}/${device.id}`;
      const topicOwner = topics.get(device.topic);
      if (topicOwner !== undefined && topicOwner !== where)
        problems.push(`device ${where} has the base topic "${device.topic}" of ${topicOwner}`);
      topics.set(device.topic, where);
      const account = deviceAccountName(network, id, device);
      const accountOwner = accounts.get(account);
      if (accountOwner !== undefined && accountOwner !== where)
        problems.push(`device ${where} has the MQTT user name "${account}" of ${accountOwner}`);
      accounts.set(account, where);
    }
  }
  for (const site of network.sites) {
    for (const rule of site.guests ?? []) {
      for (const from of rule.from) {
        if (from !== '*' && !sites.has(from))
          problems.push(
            `site "${site.site.id}" opens spaces to guests of "${from}", which is no site of the network`,
          );
      }
    }
  }
  return problems;
}
