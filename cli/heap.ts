import v8 from 'node:v8';

/**
 * How far V8 lets the old space grow past what the last full collection kept, for the long-running parts
 * (issue 10: memory flat while the store is down under load).
 *
 * After each full collection V8 sets the next one's trigger at the live heap times a factor it picks from
 * how fast the program fills the old space against how fast it marks, up to 4× on a machine with the memory.
 * The reading path fills it steadily with short-lived data: each message is kept for seconds to minutes
 * (the journal's recent entries, each device's last 64 messages, the identity windows, the batches waiting for
 * the store), long enough to be promoted, and then dropped: ~2 KB a message in `wesprint edge` at 1,000
 * msg/s, with the store up or down (trace-gc, 2026-12-07). So V8 picked its largest factor and RSS climbed
 * from ~250 MB to 400 MB and more around a live heap of 60 MB, one full collection every minute or two.
 *
 * `--heap-growing-percent` fixes the factor at 1 + percent/100. It is no cap: the trigger follows the live
 * heap, which grows with the devices a site has, so a large site gets a proportionally larger heap and no
 * process dies of it (a `--max-old-space-size` would). The price is more frequent full collections, each of
 * the live heap (at 1,000 msg/s and 60 MB live, one every ~15 s instead of every ~100 s; incremental, on V8's
 * helper threads for most of the marking). An operator's own `node --heap-growing-percent=N` is left alone.
 */
export const HEAP_GROWING_PERCENT = 50;

/** Sets V8's growing factor unless the node command line sets it; true if it did. */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

/**
 * V8's young generation for the long-running parts, on the node command line: V8 sizes it when the process
 * starts (`v8.setFlagsFromString` after that changes nothing), so it is written where `wesprint` is started:
 * `npm start`, the bin's shebang (`npx wesprint`, an installed `wesprint`), the Docker image's entrypoint,
 * `npm run bench`, and the processes the tests and benchmarks start (test-support/wesprint-process.ts).
 *
 * Why: a device message's objects (the packet, the journal's entry, the decoded readings waiting for the
 * store's next batch) live for a few hundred milliseconds. With V8's default semi-space (16 MB) a scavenge
 * comes every ~0.2 s at 30,000 messages a second, and those objects survive it, are copied and promoted,
 * and die in the old space. With 64 MB they die young. The main thread's garbage collection in
 * `ingest-references` (100,000 messages, profiled): 2.1-3.1 s at 16 MB, 0.8-0.9 s at 64 MB (2026-12-07).
 * The space grows only as fast as the process allocates: a building's few messages a second leave it small.
 */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=64';
