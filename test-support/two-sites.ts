import type { CommandReport, LockCommands } from '../api/lock-commands.ts';
import { networkOf, type SiteNetwork } from '../site/network.ts';
import type { SiteConfig } from '../site/site.ts';

/**
 * Two small houses of one network whose devices have the same ids (`plug-1`, `lock-1`) and their own base
 * topics: for the tests that keys carry the site (accounts, ACL, stored series, building topics, records).
 */
export function house(id: 'nord' | 'sued', hex: string): SiteConfig {
  return {
    site: { id, name: id === 'nord' ? 'Haus Nord' : 'Haus Süd', timezone: 'Europe/Berlin' },
    floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 300 }],
    spaces: [
      { id: 'werkstatt', name: 'Werkstatt', floor: 'eg', kind: 'hall', area_m2: 120 },
      {
        id: 'desk-1',
        name: 'Schreibtisch 1',
        floor: 'eg',
        kind: 'desk',
        area_m2: 4,
        bookable: true,
      },
      {
        id: 'protel-1',
        name: 'Protel 1',
        floor: 'eg',
        kind: 'protel',
        area_m2: 18,
        bookable: true,
        lock: 'lock-1',
      },
    ],
    devices: [
      { id: 'plug-1', profile: 'shelly-gen1', topic: `shellies/shellyplug-s-${hex}`, space: 'werkstatt' },
      { id: 'lock-1', profile: 'nuki-mqtt', topic: `nuki/${hex}00`, space: 'protel-1' },
    ],
  };
}

export const NORD = house('nord', 'A1A1A1');
export const SUED = house('sued', 'B2B2B2');

/** Nord and Süd as a network (SITES_DIR): accounts and secrets `nord/plug-1`, `sued/plug-1`. */
export function twoSites(): SiteNetwork {
  return networkOf([NORD, SUED]);
}

/**
 * A house's lock channel for the API's tests: every door opens at once (answered at `now()`), and each command is
 * written to `sent` as `<site>/<device>`, so a test sees which house's lock a route used.
 */
export function openingLocks(site: string, sent: string[], now: () => number = Date.now): LockCommands {
  return {
    send: async (device: string): Promise<CommandReport> => {
      sent.push(`${site}/${device}`);
      return {
        id: `cmd-${sent.length}`,
        device,
        action: 'unlock',
        outcome: 'done',
        detail: 'unlocked',
        publishedAt: now(),
        answeredAt: now(),
      };
    },
  } as unknown as LockCommands;
}
