import t from 'tap';
import { benchLiveLatency, describeLiveLatency } from './live-latency.ts';

/**
 * The live-latency bench on the real broker, gateway and API, briefly and slowly: every reading reaches the
 * WebSocket once and has its latency taken. The figures themselves are not looked at.
 */
t.test('every reading published reaches /api/live once, and each is timed', async (t) => {
  const r = await benchLiveLatency({ rate: 200, durationS: 1, devices: 20 });
  t.same(r.problems, []);
  t.ok(r.ok);
  t.equal(r.messages, 200);
  t.ok(r.readings.expected > r.messages, 'the messages carry several readings each');
  t.same(
    { received: r.readings.received, missing: r.readings.missing, extra: r.readings.extra },
    { received: r.readings.expected, missing: 0, extra: 0 },
  );
  t.equal(r.latencyMs.count, r.readings.received);
  t.match(describeLiveLatency(r).join('\n'), /every reading reached the socket once/);
});
