import t from 'tap';
import { zonedIsoTime } from './define.ts';

t.test("a device's time names its zone and a day that exists, or it is not used", async (t) => {
  t.equal(zonedIsoTime('2026-11-03T08:15:00Z'), Date.UTC(2026, 10, 3, 8, 15));
  t.equal(zonedIsoTime('2026-11-03T09:15:00+01:00'), Date.UTC(2026, 10, 3, 8, 15));
  t.equal(zonedIsoTime('2026-11-03T08:15:00'), undefined, 'no zone (Tasmota default)');
  t.equal(zonedIsoTime('2027-02-30T10:00:00Z'), undefined, '30 February is not 2 March');
  t.equal(zonedIsoTime('2026-11-03T24:00:00Z'), undefined, '24:00 is not the next midnight');
});
