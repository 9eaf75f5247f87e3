/**
 * The arrival time a journaled message is stamped with (journal.ts `ArrivingMessage.receivedAt`), by whoever
 * takes it from its sender: the project's broker, or the gateway's intake against another broker.
 */

/** Topics remembered by arrivalClock before it forgets those whose last stamp is in the past. */
const ARRIVAL_TOPICS = 100_000;

/**
 * Arrival times, strictly increasing per topic: a reading without a time of its own is stamped with its
 * arrival (Tasmota without SetOption52, Shelly Gen1) and the stores key it by series and millisecond, so two
 * messages of one topic stamped alike would overwrite each other's row. At the broker that happens when one
 * socket read brings several of a device's messages (a device flushing what it queued while away); at the
 * gateway's intake against another broker all the time: after a restart a broker sends a session's whole
 * backlog in one burst, hundreds of one device's messages within a millisecond (measured: 110 messages of one
 * plug, 94 distinct stamps). A message whose topic already has a stamp at or after now gets the next
 * millisecond; a backlog of n messages of one topic ends up to n ms
 * ahead of the clock, which a device reporting every few seconds never notices.
 */
export function arrivalClock(now: () => number): (topic: string) => number {
  const last = new Map<string, number>();
  return (topic) => {
    const t = now();
    const previous = last.get(topic);
    const stamp = previous !== undefined && previous >= t ? previous + 1 : t;
    if (last.size >= ARRIVAL_TOPICS && previous === undefined) {
      for (const [k, v] of last) if (v < t) last.delete(k);
    }
    last.set(topic, stamp);
    return stamp;
  };
}
