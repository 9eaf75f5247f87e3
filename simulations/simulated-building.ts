import type { DeviceConfig, SiteConfig, SpaceConfig } from '../site/site.ts';
import {
  floorMainLoad,
  isOpen,
  type LocalTime,
  localTime,
  type MeterLoad,
  meterPowerW,
  PRESENCE_SLOT_MS,
  peopleInSpace,
  plugLoad,
} from './physics.ts';

/**
 * The site file brought to life: the pure physics model (physics.ts) applied to this site's spaces and floors.
 * Deterministic for a seed, so every virtual device of one simulation sees the same people.
 */
export class SimulatedBuilding {
  readonly site: SiteConfig;
  readonly seed: string;
  readonly timeZone: string;
  private readonly spaces = new Map<string, SpaceConfig>();
  private readonly desksOf = new Map<string, SpaceConfig[]>();
  private readonly cache = new Map<string, number>();

  constructor(site: SiteConfig, seed: string | number = 'kaufhaus') {
    this.site = site;
    this.seed = String(seed);
    this.timeZone = site.site.timezone || 'Europe/Berlin';
    for (const s of site.spaces) this.spaces.set(s.id, s);
    for (const s of site.spaces) {
      if (s.kind !== 'desk' || !s.parent) continue;
      const list = this.desksOf.get(s.parent) ?? [];
      list.push(s);
      this.desksOf.set(s.parent, list);
    }
  }

  space(id: string): SpaceConfig {
    const s = this.spaces.get(id);
    if (!s) throw new Error(`unknown space ${id}`);
    return s;
  }

  local(ms: number): LocalTime {
    return localTime(ms, this.timeZone);
  }

  /**
   * Stage directions for demos and tests ("ten people walk into the Protel room", "the air there is at
   * 2400 ppm"): they replace the model for that space until withdrawn (null).
   */
  private readonly staged = new Map<string, { people?: number; co2Ppm?: number }>();

  stage(spaceId: string, direction: { people?: number | null; co2Ppm?: number | null }): void {
    this.space(spaceId);
    const current = { ...this.staged.get(spaceId) };
    if (direction.people !== undefined) {
      if (direction.people === null) delete current.people;
      else current.people = direction.people;
    }
    if (direction.co2Ppm !== undefined) {
      if (direction.co2Ppm === null) delete current.co2Ppm;
      else current.co2Ppm = direction.co2Ppm;
    }
    if (current.people === undefined && current.co2Ppm === undefined) this.staged.delete(spaceId);
    else this.staged.set(spaceId, current);
  }

  /** The staged CO2 of a space, if a test or demo set one. */
  stagedCo2(spaceId: string): number | undefined {
    return this.staged.get(spaceId)?.co2Ppm;
  }

  /** The space and the spaces containing it (a desk's area), whose sensors see a change in it. */
  spacesSeeing(spaceId: string): string[] {
    const parent = this.spaces.get(spaceId)?.parent;
    return parent ? [spaceId, parent] : [spaceId];
  }

  /** People in a space; a desk area holds the people at its desks. */
  peopleIn(spaceId: string, ms: number): number {
    const staged = this.staged.get(spaceId)?.people;
    if (staged !== undefined) return staged;
    const desks = this.desksOf.get(spaceId);
    if (desks) return desks.reduce((n, d) => n + this.peopleIn(d.id, ms), 0);
    const key = `${spaceId}:${Math.floor(ms / PRESENCE_SLOT_MS)}`;
    let people = this.cache.get(key);
    if (people === undefined) {
      people = peopleInSpace(this.seed, this.space(spaceId), ms, this.timeZone);
      // presence is fixed per slot: a small cache spares the hashing, dropped whole when it grows
      if (this.cache.size > 20_000) this.cache.clear();
      this.cache.set(key, people);
    }
    return people;
  }

  peopleOnFloor(floorId: string, ms: number): number {
    let people = 0;
    for (const s of this.site.spaces) {
      if (s.floor !== floorId || this.desksOf.has(s.id)) continue;
      people += this.peopleIn(s.id, ms);
    }
    return people;
  }

  isSpaceOpen(spaceId: string, ms: number): boolean {
    const t = this.local(ms);
    return isOpen(this.space(spaceId).opening_hours, t.weekday, t.hour);
  }

  /**
   * Whether a meter measures a whole floor (main meter), one socket in a space, or the sockets of the
   * spaces its channels feed (a Pro 4PM whose outputs the site file places in Protel rooms).
   */
  private meterScope(device: DeviceConfig): { floor: string } | { space: string } | { spaces: string[] } {
    const space = this.space(device.space);
    if (device.meter_role === 'main') return { floor: space.floor };
    if (device.channels && device.channels.length > 0) return { spaces: device.channels.map((c) => c.space) };
    return { space: space.id };
  }

  meterLoad(device: DeviceConfig): MeterLoad {
    const scope = this.meterScope(device);
    if ('floor' in scope) {
      const floor = this.site.floors.find((f) => f.id === scope.floor);
      return floorMainLoad(floor?.area_m2 ?? 1000);
    }
    if ('spaces' in scope) {
      const loads = scope.spaces.map((id) => plugLoad(this.space(id).kind));
      return {
        baseW: loads.reduce((a, l) => a + l.baseW, 0),
        perPersonW: loads.reduce((a, l) => a + l.perPersonW, 0) / loads.length,
        lightingW: loads.reduce((a, l) => a + l.lightingW, 0),
      };
    }
    return plugLoad(this.space(scope.space).kind);
  }

  /**
   * Power drawn through a meter. Lights (and a plug's appliance) are on while the served spaces are
   * open and someone is there: presence-controlled, as a cooperative watching its bill would run it.
   */
  meterPowerW(device: DeviceConfig, ms: number): number {
    const load = this.meterLoad(device);
    const scope = this.meterScope(device);
    if ('floor' in scope) {
      const people = this.peopleOnFloor(scope.floor, ms);
      const open = this.site.spaces.some(
        (s) => s.floor === scope.floor && s.opening_hours && this.isSpaceOpen(s.id, ms),
      );
      return meterPowerW(load, people, open && people > 0);
    }
    if ('spaces' in scope) {
      let w = 0;
      for (const id of scope.spaces) {
        const people = this.peopleIn(id, ms);
        w += meterPowerW(plugLoad(this.space(id).kind), people, this.isSpaceOpen(id, ms) && people > 0);
      }
      return w;
    }
    const people = this.peopleIn(scope.space, ms);
    return meterPowerW(load, people, this.isSpaceOpen(scope.space, ms) && people > 0);
  }
}
