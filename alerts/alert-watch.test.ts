import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BuildingFeed, type LiveEvent } from '../building/live-feed.ts';
import { openRecords } from '../database/database.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { WERKHOF_SITE } from '../test-support/service-data-dir.ts';
import { DEFAULT_ALERT_SETTINGS, MINUTE_MS } from './alert-rules.ts';
import { AlertWatch } from './alert-watch.ts';
import { SqliteAlertStore } from './sqlite-alert-store.ts';

/**
 * A watcher started in a process that has just taken the lead of several API processes: its feed heard
 * nothing of the last minutes, the stored readings did. The CO2 stretch goes on from them.
 */

t.test(
  'a new leader reads the CO2 stretch back from the stored readings and opens the alert once',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-alert-watch-'));
    const records = openRecords(path.join(dir, 'wesprint.db'));
    const readings = new SqliteStore({ file: path.join(dir, 'readings.db') });
    t.teardown(async () => {
      await readings.close();
      records.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const site = WERKHOF_SITE as SiteConfig;
    const profiles = await loadProfiles();
    // Within the store's raw retention, on a whole minute: whatever the time of day the test runs at.
    const now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 60 * MINUTE_MS;
    // The sensor reports every 5 minutes: 1300 ppm for the last 20 minutes, under a leader killed meanwhile.
    await readings.write(
      [20, 15, 10, 5, 1].map((ago) => ({
        site: site.site.id,
        space: 'halle',
        device: 'co2-halle',
        channel: '0',
        quantity: 'co2' as const,
        value: 1300,
        unit: 'ppm' as const,
        ts: now - ago * MINUTE_MS + 1000,
      })),
    );
    const alerts = new SqliteAlertStore(records, site.site.id);
    // A real feed that has heard nothing, as a process's that was not judging.
    const watch = (timeSeries?: SqliteStore) =>
      new AlertWatch({
        alerts,
        feed: new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site }),
        site,
        profiles,
        ...(timeSeries ? { timeSeries } : {}),
        checkEveryMs: 3_600_000,
        now: () => now,
      });

    // Without the stored readings the stretch would start with the next reading heard: nothing opens now.
    const blind = watch();
    blind.start();
    await blind.check(now);
    await blind.stop();
    t.same(await alerts.openAlerts(), [], 'a watcher knowing only the live feed has nothing to judge');

    const [one, two] = [watch(readings), watch(readings)];
    one.start();
    two.start();
    await Promise.all([one.check(now), two.check(now)]);
    await Promise.all([one.stop(), two.stop()]);
    const open = await alerts.openAlerts();
    t.equal(open.length, 1, 'opened once, though two watchers judged (an old leader not yet stopped)');
    t.match(open[0], { kind: 'co2_high', space: 'halle', device: 'co2-halle' });
    const since = open[0]?.since ?? 0;
    t.ok(
      since >= now - 20 * MINUTE_MS + 1000 && since < now - 19 * MINUTE_MS,
      'since the first stored minute above, never earlier than its reading',
    );
    t.ok(now - since >= DEFAULT_ALERT_SETTINGS.co2Ms, 'above for the set time');
  },
);

t.test(
  "a live CO2 reading that changes nothing queries no open alerts: 'unknown', or 'clear' again",
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-alert-watch-'));
    const records = openRecords(path.join(dir, 'wesprint.db'));
    t.teardown(() => {
      records.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const site = WERKHOF_SITE as SiteConfig;
    const store = new SqliteAlertStore(records, site.site.id);
    let queries = 0;
    const alerts = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'openRefs') queries++;
        const value = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    let listener: ((event: LiveEvent) => void) | undefined;
    const feed = {
      subscribeLive: (l: (event: LiveEvent) => void) => {
        listener = l;
        return () => undefined;
      },
      latest: () => [],
      devices: () => [],
      gatewayOnline: true,
    };
    let now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const watch = new AlertWatch({
      alerts,
      feed,
      site,
      profiles: await loadProfiles(),
      checkEveryMs: 3_600_000,
      now: () => now,
    });
    watch.start();
    await watch.check(now);
    const co2 = (value: number): LiveEvent => ({
      type: 'reading',
      site: site.site.id,
      space: 'halle',
      device: 'co2-halle',
      channel: '0',
      quantity: 'co2',
      value,
      unit: 'ppm',
      ts: now,
    });
    const settle = () => watch.check(now);
    const before = queries;
    listener?.(co2(600));
    await settle();
    const afterFirst = queries;
    t.equal(afterFirst - before, 2, 'the first clear verdict is written (and the check after it)');
    for (let i = 0; i < 5; i++) {
      now += 1000;
      listener?.(co2(600));
    }
    await settle();
    t.equal(queries - afterFirst, 1, 'five more clear readings: no query (only the check)');
    now += 1000;
    listener?.(co2(1400));
    await settle();
    t.equal(queries - afterFirst, 2, 'above, not yet for long (unknown): no query (only the check)');
    for (let waited = 0; waited <= DEFAULT_ALERT_SETTINGS.co2Ms; waited += MINUTE_MS) {
      now += MINUTE_MS;
      listener?.(co2(1400));
    }
    await watch.stop();
    const open = await store.openAlerts();
    t.equal(open.length, 1, 'above for the set time: opened from the live reading');
    t.match(open[0], { kind: 'co2_high', space: 'halle' });
  },
);
