import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
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
        `INSERT INTO alerts (kind, subject, since, opened_at, updated_at) VALUES ('co2_high', 'cafe', 1, 1, 1)`,
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
