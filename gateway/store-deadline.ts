/**
 * A write to the time-series store under a deadline, as both of the gateway's writers need it: the live
 * readings' writer on the journal (journal-reader.ts) and the simulated history's spool (spool.ts). A store
 * that neither answers nor fails (InfluxDB accepting connections and hanging) must not hold a writer, or a
 * stop, for longer than its deadline.
 */

export class WriteTimeout extends Error {
  override name = 'WriteTimeout';
}

/** A store that is away is a state, not a bug: its reason in one line (a terminal showed the stack). */
export const storeFailureReason = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/** The write, or a WriteTimeout after `ms`; a late rejection of the write is left to whoever holds it. */
export function writeWithin(write: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  write.catch(() => {});
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WriteTimeout(`store write timed out after ${ms} ms`)), ms);
  });
  return Promise.race([write, timeout]).finally(() => clearTimeout(timer));
}

/** True when the promise (if any) settled within `ms`; never rejects. */
export async function settlesWithin(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
