import t from 'tap';
import { isOnline } from './device-health.ts';

t.test('a device that never reported is offline', async (t) => {
  t.equal(isOnline({ lastSeen: null, announced: null }, 60, 1_000_000), false);
});

t.test('quiet for up to three reporting intervals is still online, longer is offline', async (t) => {
  const lastSeen = 1_000_000;
  t.equal(isOnline({ lastSeen, announced: null }, 60, lastSeen + 180_000), true);
  t.equal(isOnline({ lastSeen, announced: null }, 60, lastSeen + 180_001), false);
});

t.test('an announced offline wins over a recent message', async (t) => {
  t.equal(isOnline({ lastSeen: 1000, announced: 'offline' }, 60, 1001), false);
  t.equal(isOnline({ lastSeen: 1000, announced: 'online' }, 60, 1001), true);
});
