import type { FastifyBaseLogger } from 'fastify';
import type { BuildingFeed, LiveEvent } from '../building/live-feed.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import {
  type BookedSlot,
  DEFAULT_FRESH_MS,
  type LobbyBoard,
  type LobbyReading,
  type LobbySpace,
  lobbyBoard,
  lobbySpaceIds,
} from './lobby-availability.ts';

/**
 * Keeps the lobby board current and tells listeners which spaces changed. Three things change it: readings
 * (occupancy, CO2) and device status from the building feed, bookings (created, cancelled, released), and
 * the clock (a booking starts, the room closes, a reading goes stale). Readings are pushed to it; bookings
 * are noticed by a cheap poll of a change marker of the records database, so the bookings are only read
 * again when something was written; the clock is watched through the board's own `changesAt`.
 */
export interface LobbySources {
  site: SiteConfig;
  feed: BuildingFeed;
  /** Read once at start, for the readings from before the API started. */
  store?: TimeSeriesStore;
  profiles?: Map<string, DeviceProfile>;
  /** Booked time ranges of a space overlapping [from, to); only the times, never who booked. */
  bookedSlots(spaceId: string, from: number, to: number): Promise<BookedSlot[]>;
  /** A value that differs whenever bookings may have changed (BookingStore.changeMarker). */
  bookingsMarker(): Promise<string | number>;
  logger?: FastifyBaseLogger;
  now?: () => number;
}

export interface LobbyWatchOptions {
  /** How often the bookings marker and the clock are checked. */
  pollMs?: number;
  /** Coalesces a burst of readings into one recomputation. */
  settleMs?: number;
}

export type LobbyListener = (space: LobbySpace) => void;

/** Bookings further ahead than this do not change what the lobby shows now. */
const BOOKINGS_AHEAD_MS = 15 * 86_400_000;
/** Bookings are read again at least this often, so the look-ahead window moves with time. */
const BOOKINGS_REREAD_MS = 3_600_000;
const LOBBY_QUANTITIES = new Set(['occupancy', 'co2']);

export class LobbyWatch {
  private readonly sources: LobbySources;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly settleMs: number;
  private readonly shown: Set<string>;
  private readonly devicesShown: Set<string>;
  private readonly freshMs = new Map<string, number>();
  /** device\0quantity -> newest reading (occupancy and CO2 only). */
  private readonly readings = new Map<string, LobbyReading>();
  private readonly listeners = new Set<LobbyListener>();
  private readonly last = new Map<string, string>();
  private slots = new Map<string, BookedSlot[]>();
  private slotsMarker: string | number | undefined;
  private slotsReadAt = 0;
  private current: LobbyBoard | undefined;
  private unsubscribeFeed: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  /** The recomputations, one after the other: a board never replaces a newer one. */
  private computing: Promise<void> = Promise.resolve();
  private ticking = false;

  constructor(sources: LobbySources, options: LobbyWatchOptions = {}) {
    this.sources = sources;
    this.now = sources.now ?? Date.now;
    this.pollMs = options.pollMs ?? 250;
    this.settleMs = options.settleMs ?? 50;
    const { site } = sources;
    this.shown = new Set(lobbySpaceIds(site));
    // A desk area's sensors speak for its desks; a desk's for its area.
    const relevantSpaces = new Set(this.shown);
    for (const s of site.spaces)
      if (s.parent !== undefined && this.shown.has(s.id)) relevantSpaces.add(s.parent);
    this.devicesShown = new Set(site.devices.filter((d) => relevantSpaces.has(d.space)).map((d) => d.id));
    for (const d of site.devices) {
      const interval = sources.profiles?.get(d.profile)?.reportingIntervalS;
      // Three missed reports and a reading no longer describes the room.
      if (interval !== undefined) this.freshMs.set(d.id, Math.max(3 * interval * 1000, 15 * 60_000));
    }
  }

  /** Reads what the store knows, then follows the feed. The board is usable (and empty of readings) at once. */
  async start(): Promise<void> {
    if (this.unsubscribeFeed) return;
    this.unsubscribeFeed = this.sources.feed.subscribeLive((event) => this.take(event));
    for (const r of this.sources.feed.latest()) this.offer(r);
    await this.recompute();
    this.poll = setInterval(() => this.tick(), this.pollMs);
    this.poll.unref();
    if (this.sources.store) {
      try {
        for (const q of LOBBY_QUANTITIES)
          for (const r of await this.sources.store.latest({ quantity: q })) this.offer(r);
        await this.recompute();
      } catch (err) {
        // The store being down leaves the lobby without older readings, not without a lobby.
        this.sources.logger?.warn({ err: (err as Error).message }, 'lobby: could not read latest readings');
      }
    }
  }

  /** Stops following; resolves once a recomputation under way is over. */
  async stop(): Promise<void> {
    this.unsubscribeFeed?.();
    this.unsubscribeFeed = undefined;
    clearInterval(this.poll);
    clearTimeout(this.settle);
    this.listeners.clear();
    await this.computing;
  }

  /** The board now (recomputed when anything it depends on may have changed). */
  async board(): Promise<LobbyBoard> {
    if (!this.current || (await this.stale())) await this.recompute();
    return this.current as LobbyBoard;
  }

  /** Tells the listener of every space whose public entry changes; returns the function that stops it. */
  subscribe(listener: LobbyListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private take(event: LiveEvent): void {
    if (event.type === 'reading') {
      if (!LOBBY_QUANTITIES.has(event.quantity) || !this.devicesShown.has(event.device)) return;
      if (!this.offer(event)) return;
    } else if (event.type === 'device-status') {
      if (!this.devicesShown.has(event.device)) return;
    } else return;
    this.soon();
  }

  /** Keeps the newer reading per device and quantity; true if it replaced what was held. */
  private offer(r: LobbyReading): boolean {
    if (!LOBBY_QUANTITIES.has(r.quantity) || !this.devicesShown.has(r.device)) return false;
    const key = `${r.device}\u0000${r.quantity}`;
    const held = this.readings.get(key);
    if (held && held.ts > r.ts) return false;
    this.readings.set(key, { device: r.device, quantity: r.quantity, value: r.value, ts: r.ts });
    return true;
  }

  private soon(): void {
    if (this.settle) return;
    this.settle = setTimeout(() => {
      this.settle = undefined;
      this.recompute().catch((err: Error) => {
        this.sources.logger?.warn({ err: err.message }, 'lobby: refresh failed');
      });
    }, this.settleMs);
  }

  private async stale(): Promise<boolean> {
    const changesAt = this.current?.changesAt;
    return (
      (changesAt !== null && changesAt !== undefined && this.now() >= changesAt) ||
      (await this.sources.bookingsMarker()) !== this.slotsMarker
    );
  }

  /** The poll: one at a time (a slow records database must not pile them up). */
  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    void (async () => {
      try {
        if (await this.stale()) await this.recompute();
      } catch (err) {
        this.sources.logger?.warn({ err: (err as Error).message }, 'lobby: refresh failed');
      } finally {
        this.ticking = false;
      }
    })();
  }

  /** Recomputes the board after any recomputation under way; rejects when this one failed. */
  private recompute(): Promise<void> {
    const run = this.computing.then(() => this.recomputeNow());
    this.computing = run.catch(() => {});
    return run;
  }

  private async recomputeNow(): Promise<void> {
    const now = this.now();
    const marker = await this.sources.bookingsMarker();
    if (marker !== this.slotsMarker || now - this.slotsReadAt > BOOKINGS_REREAD_MS) {
      const slots = new Map<string, BookedSlot[]>();
      for (const id of this.shown) {
        const booked = await this.sources.bookedSlots(id, now, now + BOOKINGS_AHEAD_MS);
        slots.set(
          id,
          booked.map(({ start, end }) => ({ start, end })),
        );
      }
      this.slots = slots;
      this.slotsMarker = marker;
      this.slotsReadAt = now;
    }
    const offline = new Set(
      this.sources.feed
        .devices()
        .filter((d) => d.online === false)
        .map((d) => d.device),
    );
    const board = lobbyBoard({
      site: this.sources.site,
      now,
      booked: this.slots,
      readings: [...this.readings.values()],
      offline,
      freshMs: this.freshMs,
      defaultFreshMs: DEFAULT_FRESH_MS,
    });
    this.current = board;
    for (const space of board.spaces) {
      const text = JSON.stringify(space);
      const before = this.last.get(space.id);
      this.last.set(space.id, text);
      if (before === undefined || before === text) continue;
      for (const listener of this.listeners) {
        try {
          listener(space);
        } catch (err) {
          this.sources.logger?.warn({ err: (err as Error).message }, 'lobby: a listener failed');
        }
      }
    }
  }
}
