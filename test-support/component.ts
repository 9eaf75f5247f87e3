import type { Test } from 'tap';

/**
 * Tests run against real components (InfluxDB, Mosquitto, Chromium). When one is missing, a developer's
 * laptop skips loudly; under CI=true a missing component is a failure, never a silent skip.
 * Returns true when the test may go on.
 */
export function requireComponent(t: Test, available: boolean, what: string, install: string): boolean {
  if (available) return true;
  const reason = `${what} is not available here (${install})`;
  if (process.env.CI === 'true') {
    t.fail(`CI=true and ${reason}: a missing component is a failure in CI`);
  } else {
    console.error(`\n*** SKIPPING: ${reason} ***\n`);
    t.pass(reason, { skip: reason });
  }
  return false;
}
