import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
import type { SpaceNotice } from './space-notices.ts';

/** The notices store on both engines: one per space and topic, current until their end, pruned after. */

const AT = Date.UTC(2026, 10, 4, 9, 0);
const MIN = 60_000;
const notice = (over: Partial<SpaceNotice>): SpaceNotice => ({
  site: 'kaufhaus',
  space: 'protel-1',
  topic: 'air',
  message: 'CO2 1240 ppm',
  level: 'warning',
  postedAt: AT,
  expiresAt: AT + 10 * MIN,
  postedBy: 'token:abc',
  ...over,
});

recordsContract(t, 'space notices: replaced per topic, current until their end', async (t, records) => {
  const { notices } = records;
  await notices.post(notice({}));
  await notices.post(
    notice({ topic: 'cleaning', message: 'cleaning at 12:00', level: 'info', postedAt: AT + 1 }),
  );
  await notices.post(notice({ space: 'protel-2', postedAt: AT + 2 }));
  await notices.post(notice({ site: 'werkhof', postedAt: AT + 3 }));
  t.same(
    (await notices.current('kaufhaus', AT)).map((n) => [n.space, n.topic]),
    [
      ['protel-1', 'air'],
      ['protel-1', 'cleaning'],
      ['protel-2', 'air'],
    ],
    "the site's own, oldest first",
  );
  t.same(await notices.current('kaufhaus', AT, []), [], 'no spaces, no notices');
  t.same(
    (await notices.current('kaufhaus', AT, ['protel-2'])).map((n) => n.space),
    ['protel-2'],
    'of the spaces asked for',
  );
  await notices.post(notice({ message: 'CO2 1400 ppm', postedAt: AT + 5, expiresAt: AT + 20 * MIN }));
  const air = (await notices.current('kaufhaus', AT + 5, ['protel-1'])).find((n) => n.topic === 'air');
  t.same(
    air,
    notice({ message: 'CO2 1400 ppm', postedAt: AT + 5, expiresAt: AT + 20 * MIN }),
    'replaced whole',
  );
  t.same(
    (await notices.current('kaufhaus', AT + 10 * MIN)).map((n) => [n.space, n.topic]),
    [['protel-1', 'air']],
    'the others ended at their end',
  );
  t.equal(await notices.clear('kaufhaus', 'protel-1', 'air'), true);
  t.equal(await notices.clear('kaufhaus', 'protel-1', 'air'), false, 'nothing left to clear');
  t.equal(await notices.prune(AT + 11 * MIN), 3, 'the ended ones forgotten');
  t.same(await notices.current('werkhof', AT), [], 'ended and pruned');
});
