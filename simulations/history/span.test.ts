import t from 'tap';
import { BackfillError } from './backfill-error.ts';
import { parseSpan, parseStep } from './span.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

t.test(
  'parseSpan and parseStep take h/d and m/h within limits, with messages that say what to write',
  async (t) => {
    t.equal(parseSpan('400d'), 400 * DAY);
    t.equal(parseSpan('36h'), 36 * HOUR);
    t.equal(parseSpan('2D'), 2 * DAY);
    for (const bad of ['', '400', '5x', '1.5d', '0d', '0h', '2000d', '-3d'])
      t.throws(() => parseSpan(bad), BackfillError, bad);
    t.throws(() => parseSpan('5x'), /write a number of days or hours, e\.g\. 400d/);
    t.throws(() => parseSpan('2000d'), /between 1h and 1096d/);
    t.equal(parseStep('15m'), 15 * 60_000);
    t.equal(parseStep('1h'), HOUR);
    t.equal(parseStep('60m'), HOUR);
    for (const bad of ['7m', '2h', '0m', 'x'])
      t.throws(() => parseStep(bad), /one of 15m, 30m, 45m, 1h/, bad);
  },
);
