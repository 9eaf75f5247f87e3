import t from 'tap';
import { recordsContract, TEST_HOUSE } from '../test-support/records.ts';
import type { Condition } from './alert-rules.ts';

const T0 = Date.UTC(2026, 10, 2, 9, 0);
const co2 = (subject: string, value: number): Condition => ({
  kind: 'co2_high',
  subject,
  space: subject,
  device: `${subject}-co2`,
  since: T0,
  value,
  unit: 'ppm',
  detail: { thresholdPpm: 1000 },
});

recordsContract(
  t,
  'one open alert per kind and subject; history kept; acknowledged once',
  async (t, records) => {
    const store = records.alerts;
    const first = await store.open(co2('cafe', 1200), T0 + 1000);
    t.equal(first.opened, true);
    t.match(first.alert, { kind: 'co2_high', subject: 'cafe', since: T0, openedAt: T0 + 1000, value: 1200 });
    const again = await store.open(co2('cafe', 1300), T0 + 2000);
    t.equal(again.opened, false, 'the open one is returned');
    t.equal(again.alert.id, first.alert.id);
    t.equal(again.alert.value, 1200, 'unchanged by a second open');
    // The database itself refuses a second open row, whatever the code does.
    await t.rejects(
      records.exec(
        `INSERT INTO alerts (site, kind, subject, since, opened_at, updated_at)
         VALUES ('${TEST_HOUSE}', 'co2_high', 'cafe', 1, 1, 1)`,
      ),
      /unique/i,
    );

    t.equal((await store.update(first.alert.id, co2('cafe', 1500), T0 + 3000))?.value, 1500);
    const cleared = await store.clear(first.alert.id, T0 + 4000);
    t.equal(cleared?.clearedAt, T0 + 4000);
    t.equal(await store.clear(first.alert.id, T0 + 5000), undefined, 'clearing twice changes nothing');
    t.equal(
      await store.update(first.alert.id, co2('cafe', 1600), T0 + 5000),
      undefined,
      'a cleared alert keeps its value',
    );
    const next = await store.open(co2('cafe', 1100), T0 + 6000);
    t.equal(next.opened, true, 'after clearing, a new one may open');
    t.same(
      (await store.openAlerts()).map((a) => a.id),
      [next.alert.id],
    );
    t.same(
      (await store.newest()).map((a) => a.id),
      [next.alert.id, first.alert.id],
      'history, newest first',
    );

    const member = await records.member('facility', 'Fatma');
    t.same(await store.acknowledge(999, member.id, T0), { outcome: 'not_found' });
    const ack = await store.acknowledge(first.alert.id, member.id, T0 + 7000);
    t.equal(ack.outcome, 'acknowledged', 'a cleared alert may still be acknowledged');
    if (ack.outcome !== 'not_found')
      t.same(ack.alert.acknowledged, { by: member.id, name: 'Fatma', at: T0 + 7000 });
    const twice = await store.acknowledge(first.alert.id, 'someone-else', T0 + 8000);
    t.equal(twice.outcome, 'already');
    if (twice.outcome !== 'not_found')
      t.equal(twice.alert.acknowledged?.by, member.id, 'the first one stays');
  },
);

recordsContract(t, 'watchers opening the same alert at once get one alert', async (t, records) => {
  const other = await records.another();
  const opened = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? other.alerts : records.alerts).open(co2('hall', 1400), T0)),
  );
  t.equal(opened.filter((o) => o.opened).length, 1, 'opened once');
  t.equal(new Set(opened.map((o) => o.alert.id)).size, 1, 'everyone got the same alert');
  t.equal((await records.alerts.openAlerts()).length, 1);
});

recordsContract(
  t,
  'alerts carry their house: the same kind and subject open in each, each store sees its own',
  async (t, records) => {
    const nord = records.alertsAt('nord');
    const sued = records.alertsAt('sued');
    // Both houses have a device `plug-1`: its offline alert is open in each, once.
    const offline = (at: number): Condition => ({
      kind: 'device_offline',
      subject: 'plug-1',
      space: 'werkstatt',
      device: 'plug-1',
      since: at,
      value: null,
      unit: null,
      detail: {},
    });
    const inNord = await nord.open(offline(T0), T0);
    const inSued = await sued.open(offline(T0 + 1), T0 + 1);
    t.equal(inNord.opened, true);
    t.equal(inSued.opened, true, "Süd's plug-1 is another subject than Nord's");
    t.equal((await sued.open(offline(T0 + 2), T0 + 2)).opened, false, 'still one open per house');
    t.match(inSued.alert, { site: 'sued', subject: 'plug-1' });
    t.same(
      (await nord.openAlerts()).map((a) => [a.site, a.id]),
      [['nord', inNord.alert.id]],
    );
    t.same(
      (await sued.newest()).map((a) => [a.site, a.id]),
      [['sued', inSued.alert.id]],
    );
    // Another house's alert is not found here: not read, updated, cleared or acknowledged.
    t.equal(await nord.get(inSued.alert.id), undefined);
    t.equal(await nord.update(inSued.alert.id, offline(T0), T0 + 3), undefined);
    t.equal(await nord.clear(inSued.alert.id, T0 + 3), undefined);
    const member = await records.member('facility');
    t.same(await nord.acknowledge(inSued.alert.id, member.id, T0 + 3), { outcome: 'not_found' });
    t.equal((await sued.get(inSued.alert.id))?.clearedAt, null, "Süd's alert untouched");
    t.equal((await sued.get(inSued.alert.id))?.acknowledged, null);

    // The database itself: a second open row of (site, kind, subject) is refused, another site's is not.
    await t.rejects(
      records.exec(
        `INSERT INTO alerts (site, kind, subject, since, opened_at, updated_at)
         VALUES ('sued', 'device_offline', 'plug-1', 1, 1, 1)`,
      ),
      /unique/i,
    );
    await records.exec(
      `INSERT INTO alerts (site, kind, subject, since, opened_at, updated_at)
       VALUES ('west', 'device_offline', 'plug-1', 1, 1, 1)`,
    );
    // Rows from before alerts carried their site: one open per kind and subject among them too, until the
    // home site is given them.
    await records.exec(
      `INSERT INTO alerts (kind, subject, since, opened_at, updated_at) VALUES ('co2_high', 'halle', 1, 1, 1)`,
    );
    await t.rejects(
      records.exec(
        `INSERT INTO alerts (kind, subject, since, opened_at, updated_at) VALUES ('co2_high', 'halle', 2, 2, 2)`,
      ),
      /unique/i,
    );
    t.equal((await nord.openAlerts()).length, 1, 'a row without a site is no house’s yet');
    t.equal(await records.settleAlertSites('nord'), 1);
    t.equal(await records.settleAlertSites('nord'), 0, 'once');
    t.same(
      (await nord.openAlerts()).map((a) => [a.site, a.kind, a.subject]),
      [
        ['nord', 'co2_high', 'halle'],
        ['nord', 'device_offline', 'plug-1'],
      ],
      "the home site's now",
    );
  },
);
