import t from 'tap';
import { isOnline } from './device-health.ts';

t.test('a device that never reported is offline', async (t) => {
  t.equal(isOnline({ lastSeen: null, announced: null }, { reportingIntervalS: 60 }, 1_000_000), false);
});

t.test('quiet for up to three reporting intervals is still online, longer is offline', async (t) => {
  const lastSeen = 1_000_000;
  t.equal(isOnline({ lastSeen, announced: null }, { reportingIntervalS: 60 }, lastSeen + 180_000), true);
  t.equal(isOnline({ lastSeen, announced: null }, { reportingIntervalS: 60 }, lastSeen + 180_001), false);
});

t.test('an announced offline wins over a recent message', async (t) => {
  t.equal(isOnline({ lastSeen: 1000, announced: 'offline' }, { reportingIntervalS: 60 }, 1001), false);
  t.equal(isOnline({ lastSeen: 1000, announced: 'online' }, { reportingIntervalS: 60 }, 1001), true);
});

t.test(
  'a family that sleeps between reports: its offline is its sleep, its silence counts as for any',
  async (t) => {
    const sleeper = { reportingIntervalS: 7200, sleeping: true };
    const lastSeen = 1_000_000;
    const asleep = { lastSeen, announced: 'offline' as const };
    t.equal(
      isOnline(asleep, sleeper, lastSeen + 1000),
      true,
      'dropped off the network right after its report',
    );
    t.equal(isOnline(asleep, sleeper, lastSeen + 6 * 3_600_000), true, 'three reports of two hours');
    t.equal(isOnline(asleep, sleeper, lastSeen + 6 * 3_600_000 + 1), false, 'then it has missed them');
    t.equal(isOnline({ lastSeen: null, announced: 'offline' }, sleeper, lastSeen), false, 'never heard');
    t.equal(
      isOnline(asleep, { reportingIntervalS: 7200 }, lastSeen + 1000),
      false,
      'the same words from a device that does not sleep',
    );
  },
);
