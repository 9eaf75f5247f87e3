import type { SiteConfig } from '../../site/site.ts';
import { PRESENCE_SLOT_MS } from '../physics.ts';
import { SimulatedBuilding } from '../simulated-building.ts';

/**
 * The same building, answering repeated questions from memory: a history asks the people of a space for
 * every 5-minute step of its 30-minute presence slot, and whether it is open for every step of a year.
 */
export class MemoizedBuilding extends SimulatedBuilding {
  private readonly presence = new Map<string, { slot: number; people: number }>();
  /** Per space, open or not by local minute of the week (-1: not asked yet); opening hours are whole minutes. */
  private readonly openByMinute = new Map<string, Int8Array>();
  private readonly floorSpaces = new Map<string, string[]>();

  constructor(site: SiteConfig, seed: string | number = 'kaufhaus') {
    super(site, seed);
    const areas = new Set(site.spaces.filter((s) => s.kind === 'desk' && s.parent).map((s) => s.parent));
    for (const s of site.spaces) {
      if (areas.has(s.id)) continue;
      this.floorSpaces.set(s.floor, [...(this.floorSpaces.get(s.floor) ?? []), s.id]);
    }
  }

  override isSpaceOpen(spaceId: string, ms: number): boolean {
    const t = this.local(ms);
    const minute = (t.weekday - 1) * 1440 + Math.floor(t.hour * 60);
    let week = this.openByMinute.get(spaceId);
    if (week === undefined) {
      week = new Int8Array(7 * 1440).fill(-1);
      this.openByMinute.set(spaceId, week);
    }
    let open = week[minute] as number;
    if (open < 0) {
      open = super.isSpaceOpen(spaceId, ms) ? 1 : 0;
      week[minute] = open;
    }
    return open === 1;
  }

  override peopleOnFloor(floorId: string, ms: number): number {
    let people = 0;
    for (const id of this.floorSpaces.get(floorId) ?? []) people += this.peopleIn(id, ms);
    return people;
  }

  override peopleIn(spaceId: string, ms: number): number {
    const slot = Math.floor(ms / PRESENCE_SLOT_MS);
    const known = this.presence.get(spaceId);
    if (known?.slot === slot) return known.people;
    const people = super.peopleIn(spaceId, ms);
    this.presence.set(spaceId, { slot, people });
    return people;
  }
}
