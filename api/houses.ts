import { type Member, type Role, roleAt, STAFF } from '../access/roles.ts';
import type { BookingSeriesStore, BookingStore } from '../bookings/booking-store.ts';
import type { EventAnnouncer } from '../building/events.ts';
import type { SiteConfig } from '../site/site.ts';
import { ApiError } from './errors.ts';
import type { LockCommands } from './lock-commands.ts';

/**
 * The network's houses as the API serves them (`/api/houses/:site/…`, and this house's own routes): one house
 * is its site file (spaces, devices and locks, time zone, opening hours, `guests`), its bookings and series
 * (Records.bookingsAt: a booking of another house is not found in it, whatever its id), its lock channel and
 * where its bookings and doors are told. A house the network does not have is a 404, answered here; a member's
 * role is the one they hold in the house asked for.
 */
export interface House {
  site: SiteConfig;
  /** The site of members who name no home (the installation's first). */
  installationHome: string;
  /** Its bookings and series: its conflicts are its own (a space id may repeat between houses). */
  bookings: BookingStore & BookingSeriesStore;
  /** Its lock channel; a house without one answers lock_offline to a granted unlock. */
  commands: Pick<LockCommands, 'send'> | undefined;
  /** Where its bookings made or cancelled and its doors opened are told (each event names its house). */
  events: EventAnnouncer | undefined;
}

export interface HousesOptions {
  /** The house this API serves. */
  site: SiteConfig;
  /** The network's houses, the installation's home site first (SITES_DIR; a single building: `site` alone). */
  network?: readonly SiteConfig[] | undefined;
  bookingsAt: (siteId: string) => BookingStore & BookingSeriesStore;
  commandsAt: (siteId: string) => Pick<LockCommands, 'send'> | undefined;
  events?: EventAnnouncer | undefined;
}

export class Houses {
  /** The house this API serves. */
  readonly here: House;
  readonly installationHome: string;
  /** Every house, in the network's order (the house served first when the network does not name it). */
  readonly all: readonly House[];
  readonly #byId: ReadonlyMap<string, House>;

  constructor(options: HousesOptions) {
    const hereId = options.site.site.id;
    const sites = options.network?.some((s) => s.site.id === hereId)
      ? options.network
      : [options.site, ...(options.network ?? [])];
    this.installationHome = options.network?.[0]?.site.id ?? hereId;
    this.all = sites.map((site) => ({
      site,
      installationHome: this.installationHome,
      bookings: options.bookingsAt(site.site.id),
      commands: options.commandsAt(site.site.id),
      events: options.events,
    }));
    this.#byId = new Map(this.all.map((house) => [house.site.site.id, house]));
    this.here = this.#byId.get(hereId) as House;
  }

  /** The house of this id; undefined for one the network does not have. */
  get(siteId: string): House | undefined {
    return this.#byId.get(siteId);
  }

  /** The house a request names: 404 for one the network does not have. */
  asked(siteId: string): House {
    const house = this.#byId.get(siteId);
    if (!house) throw new ApiError(404, `no house "${siteId}" in this network`);
    return house;
  }

  /**
   * What a route makes of each house, made once per house; the lookup answers 404 for a house the network
   * does not have.
   */
  each<T>(make: (house: House) => T): (siteId: string) => T {
    const made = new Map(this.all.map((house) => [house.site.site.id, make(house)]));
    return (siteId) => made.get(this.asked(siteId).site.site.id) as T;
  }

  /** The member's role in a house (at home their own; elsewhere what they were given there, or member). */
  roleOf(member: Member, siteId: string): Role {
    return roleAt(member, siteId, this.installationHome);
  }

  /** Staff there (facility, admin) move, change and cancel anyone's there; staff of another house do not. */
  isStaffIn(member: Member, siteId: string): boolean {
    return STAFF.includes(this.roleOf(member, siteId));
  }
}
