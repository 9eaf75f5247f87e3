import t from 'tap';
import {
  benchLiveLatency,
  describeLiveLatency,
  LIVE_PATHS,
  liveOrder,
  median,
  medianPercentiles,
  worstPerSecond,
} from './live-latency.ts';
import { LiveLedger } from './live-ledger.ts';
import { percentiles } from './unlock.ts';

/**
 * The live-latency bench on the real processes (`wesprint start --no-simulation`, a bare aedes of its own),
 * briefly and slowly: every reading reaches the WebSocket once, every message the baseline's subscriber once,
 * and each is timed. The figures themselves are not looked at; the arithmetic they go through is, on known
 * lists.
 */
t.test(
  'every reading published reaches /api/live once, every message the bare subscriber once',
  async (t) => {
    const r = await benchLiveLatency({ rate: 200, durationS: 1, devices: 20, runs: 1 });
    t.same(r.problems, []);
    t.ok(r.ok);
    t.same(
      r.samples.map((s) => s.path),
      ['bare', 'wesprint'],
    );
    for (const s of r.samples) {
      t.equal(s.messages, 200, s.path);
      t.same(
        { received: s.readings.received, missing: s.readings.missing, extra: s.readings.extra },
        { received: s.readings.expected, missing: 0, extra: 0 },
        s.path,
      );
      t.equal(s.latencyMs.count, s.readings.received, `${s.path}: each timed`);
      t.equal(s.pubackMs.count, 200, `${s.path}: each PUBACK timed`);
      t.equal(s.worstPerSecondMs.length, 1, `${s.path}: one second`);
      t.ok(s.cpuUsPerMessage > 0, `${s.path}: the system's CPU read`);
    }
    const [bare, wesprint] = r.samples;
    t.equal(bare?.readings.expected, 200, 'the bare broker: a message each');
    t.ok((wesprint?.readings.expected ?? 0) > 200, 'WeSprint: the messages carry several readings each');
    t.equal(r.latencyMs.count, wesprint?.readings.received);
    t.equal(r.baselineMs.count, 200);
    t.match(describeLiveLatency(r).join('\n'), /every reading reached the socket once/);
  },
);

t.test('percentiles: nearest rank of a known list', async (t) => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
  t.same(percentiles(hundred), { count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  const ten = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  t.same(percentiles(ten), { count: 10, p50: 5, p95: 10, p99: 10, max: 10 });
  const one = percentiles([]);
  t.equal(one.count, 0);
  t.ok(Number.isNaN(one.p99));
});

t.test('medians of the runs: each figure on its own, counts summed', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
  t.same(
    medianPercentiles([
      { count: 10, p50: 1, p95: 5, p99: 9, max: 20 },
      { count: 20, p50: 3, p95: 4, p99: 30, max: 40 },
      { count: 30, p50: 2, p95: 6, p99: 10, max: 11 },
    ]),
    { count: 60, p50: 2, p95: 5, p99: 10, max: 20 },
  );
});

t.test('the worst latency of each second, by the second its message was published in', async (t) => {
  const started = 1000;
  const publishedAt = [1000, 1500, 1999, 2000, 2100, 3999, 4200];
  const latencies = [5, 12.34, 3, 40, 7, 1, 99];
  // Second 0: 5, 12.3, 3; second 1: 40, 7; second 2: 1, and 99 published past the end counts in the last.
  t.same(worstPerSecond(publishedAt, latencies, started, 3), [12.3, 40, 99]);
  t.same(worstPerSecond([1000, 3500], [2, 3], started, 4), [2, 0, 3, 0], 'a second with none is 0');
  t.same(worstPerSecond([], [], started, 2), [0, 0]);
});

t.test('the two paths alternate: each run starts with the other one', async (t) => {
  t.same(liveOrder(1), ['bare', 'wesprint']);
  t.same(liveOrder(2), ['wesprint', 'bare']);
  t.same(liveOrder(3), liveOrder(1));
  t.same([...liveOrder(2)].sort(), [...LIVE_PATHS].sort());
});

t.test('the ledger settles the oldest message owing an item, times it, and counts extras', async (t) => {
  const ledger = new LiveLedger();
  ledger.timing = true;
  ledger.published('d1', ['power', 'energy'], 100);
  ledger.published('d1', ['power', 'energy'], 110);
  ledger.arrived('d1', 'power', 105); // the first message's
  ledger.arrived('d1', 'power', 120); // the second's
  ledger.arrived('d1', 'energy', 121); // the first's, late
  ledger.arrived('d1', 'energy', 122); // the second's
  ledger.arrived('d1', 'energy', 130); // nobody's
  ledger.arrived('d2', 'power', 130); // unknown device
  t.same(ledger.latencies, [5, 10, 21, 12]);
  t.equal(ledger.received, 4);
  t.equal(ledger.extra, 2);
  t.equal(ledger.outstanding, 0);

  // Published before timing began, arrived after: settled, not timed.
  const lead = new LiveLedger();
  lead.published('d1', ['power'], 100);
  lead.timing = true;
  lead.published('d1', ['power'], 200);
  lead.arrived('d1', 'power', 250);
  lead.arrived('d1', 'power', 260);
  t.same(lead.latencies, [60], 'only the message published while timing');
  t.equal(lead.received, 1);
  t.equal(lead.outstanding, 0);
});
