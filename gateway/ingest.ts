import type { DecodeResult, DeviceProfile } from '../device-profiles/profile.ts';
import { decodeMessage } from '../device-profiles/registry.ts';
import { channelSpace } from '../site/channels.ts';
import { asNetwork, deviceKey, type SiteNetwork } from '../site/network.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import type { StoredReading } from '../storage/store.ts';
import type { Quarantine } from './quarantine.ts';

/**
 * The one way a device message becomes stored readings: decode it with the site's device profiles, put
 * what cannot be decoded into the quarantine, and name each reading with its device, site and space (its
 * channel's). The
 * live gateway and the simulated building's history (simulations/history/run.ts) both go through here, so
 * the history has exactly the live path's units, quarantine and naming.
 */
export class DeviceMessageDecoder {
  /** The devices by base topic, named by their key (site/network.ts: `<site>/<device>` in a network). */
  readonly #byTopic: Map<string, { id: string; profile: string }>;
  readonly #devices: Map<string, { device: DeviceConfig; site: string }>;

  /** Of one site, or of every site of a network (their base topics are unique in the network). */
  constructor(
    sites: SiteConfig | SiteNetwork,
    private readonly profiles: Map<string, DeviceProfile>,
    private readonly quarantine: Quarantine,
  ) {
    const network = asNetwork(sites);
    this.#byTopic = new Map();
    this.#devices = new Map();
    for (const site of network.sites) {
      for (const device of site.devices) {
        const key = deviceKey(network, site.site.id, device.id);
        this.#byTopic.set(device.topic, { id: key, profile: device.profile });
        this.#devices.set(key, { device, site: site.site.id });
      }
    }
  }

  /**
   * `ignored` for expected traffic that is no report, `quarantined` (already kept, with its reason) for what
   * cannot be decoded or belongs to no site device, else the device, the decoded result and its readings.
   * `origin.seq`, a message's position in the journal, keeps a message decoded again from being quarantined
   * twice: `fresh` is false when it was kept already. `origin.quarantine: false` only looks (a retained
   * message read for its news at start): nothing is kept.
   */
  /**
   * Into the quarantine unless only looking. A method rather than a closure made per message: tsx compiles
   * with esbuild's keepNames, which names each closure bound to a name with a defineProperty call as it is
   * made.
   */
  #keep(origin: { seq?: number; quarantine?: boolean }, entry: Parameters<Quarantine['add']>[0]): boolean {
    if (origin.quarantine === false) return false;
    return this.quarantine.add(origin.seq === undefined ? entry : { ...entry, seq: origin.seq });
  }

  /**
   * The site of the device whose base topic this topic is or lies under (base topics are unique in the
   * network); undefined when it names none. For what is kept before decoding (an oversized message).
   */
  siteOfTopic(topic: string): string | undefined {
    for (const [base, { id }] of this.#byTopic) {
      if (topic === base || topic.startsWith(`${base}/`)) return this.#devices.get(id)?.site;
    }
    return undefined;
  }

  decode(
    topic: string,
    payload: Buffer,
    receivedAt: number,
    origin: { seq?: number; quarantine?: boolean } = {},
  ):
    | { outcome: 'ignored' }
    | { outcome: 'quarantined'; fresh: boolean }
    | {
        outcome: 'decoded';
        device: DeviceConfig;
        /** The device's site id, and its key in the installation (its id, or `<site>/<device>` in a network). */
        site: string;
        key: string;
        result: DecodeResult;
        readings: StoredReading[];
      } {
    const decoded = decodeMessage(this.profiles, topic, payload, receivedAt, this.#byTopic);
    if (!decoded.ok) {
      if (decoded.reason === 'ignored') return { outcome: 'ignored' };
      // A message of a known device is its site's, whatever is wrong with it.
      const site = decoded.device ? this.#devices.get(decoded.device)?.site : undefined;
      const fresh = this.#keep(origin, {
        receivedAt,
        topic,
        payload,
        reason: decoded.reason,
        detail: decoded.detail,
        ...(decoded.device ? { device: decoded.device } : {}),
        ...(site ? { site } : {}),
      });
      return { outcome: 'quarantined', fresh };
    }
    const known = this.#devices.get(decoded.device);
    if (!known) {
      // decodeMessage only names site devices when given the site's topic map; anything else is unknown.
      const fresh = this.#keep(origin, {
        receivedAt,
        topic,
        payload,
        reason: 'unknown_device',
        detail: 'not in site',
      });
      return { outcome: 'quarantined', fresh };
    }
    const { device, site } = known;
    // A channel the site file places in a space of its own (an output feeding a Protel room) is read there.
    // Built field by field, not spread (`{...r, …}`): the readings come from many profiles' literals, and a
    // spread over objects of so many shapes took V8's slow path (8.7 % of the event loop's time, the
    // largest of any project function on `wesprint start`'s reading path).
    const source = decoded.result.readings;
    const readings = new Array<StoredReading>(source.length);
    for (let i = 0; i < source.length; i++) {
      const r = source[i] as (typeof source)[number];
      readings[i] = {
        device: device.id,
        channel: r.channel,
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        ts: r.ts,
        site,
        space: device.channels === undefined ? device.space : channelSpace(device, r.channel),
      };
    }
    return { outcome: 'decoded', device, site, key: decoded.device, result: decoded.result, readings };
  }
}
