import type { LatestFilter, Series, SeriesQuery, StoredReading, TimeSeriesStore } from './store.ts';

/**
 * One site's readings in a store that holds a network's (SITES_DIR): what the API and the watchers of that
 * site read. A series is (site, device, channel, quantity) in every store and each series is aggregated on
 * its own, so keeping the site's series of an answer is exact: device ids that repeat between the houses
 * never add up, and no house reads another's. Writes are the gateway's, for every site: this view reads.
 */
export function siteReadings(store: TimeSeriesStore, siteId: string): TimeSeriesStore {
  const ours = <T extends { site: string }>(rows: T[]): T[] => rows.filter((r) => r.site === siteId);
  return {
    kind: store.kind,
    write: async () => {
      throw new Error(`the readings of site ${siteId} are read here, never written`);
    },
    query: async (q: SeriesQuery): Promise<Series[]> => ours(await store.query(q)),
    latest: async (filter?: LatestFilter): Promise<StoredReading[]> => ours(await store.latest(filter)),
    ping: () => store.ping(),
    // The store is the caller's: it closes it.
    close: async () => {},
  };
}
