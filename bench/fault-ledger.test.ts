import t from 'tap';
import { decodeMessage, loadProfiles } from '../device-profiles/registry.ts';
import {
  FIRST_COUNTER,
  faultPayload,
  faultSite,
  messageKey,
  storedCounter,
  storedKey,
  tallyFaults,
  timedMessage,
} from './fault-ledger.ts';

/**
 * The faults bench's counting: what it calls lost, lost without PUBACK and stored twice must be exactly
 * that, or the figures that are to prove issue 10's fix prove nothing.
 */

const keys = (...counters: number[]) => counters.map((c) => messageKey('plug', c));

t.test(
  'lost, lost without PUBACK and stored twice, each counted once and only where it belongs',
  async (t) => {
    const published = keys(1, 2, 3, 4, 5, 6, 7);
    const acked = keys(1, 2, 3, 4, 7); // 5 and 6 never PUBACKed
    // 1 once, 2 three times, 3 and 7 missing (acked: lost), 4 twice, 5 once (stored, never acked), 6 missing.
    const stored = keys(1, 2, 2, 2, 4, 5, 4);
    t.same(tallyFaults(published, acked, stored), {
      published: 7,
      acked: 5,
      stored: 4,
      lost: 2,
      lostWithoutPuback: 1,
      storedTwice: 3,
      messagesStoredTwice: 2,
      unknown: 0,
    });
  },
);

t.test(
  'a clean run counts nothing; a row no message carried is counted apart, never as a message',
  async (t) => {
    const published = keys(1, 2, 3);
    t.same(tallyFaults(published, published, keys(3, 1, 2)), {
      published: 3,
      acked: 3,
      stored: 3,
      lost: 0,
      lostWithoutPuback: 0,
      storedTwice: 0,
      messagesStoredTwice: 0,
      unknown: 0,
    });
    const r = tallyFaults(published, published, [
      ...keys(1, 2, 3),
      messageKey('other', 2),
      messageKey('plug', 9),
    ]);
    t.equal(r.unknown, 2);
    t.equal(r.storedTwice, 0, 'the same counter of another device is not a duplicate');
    t.equal(r.stored, 3);
  },
);

t.test('the same message published twice (a resend) is one message', async (t) => {
  const r = tallyFaults(keys(1, 1, 2), keys(1, 2), keys(1, 2));
  t.equal(r.published, 2);
  t.equal(r.lost, 0);
  t.equal(r.storedTwice, 0);
});

t.test('an acknowledgement of a message never published is a miscount, and throws', async (t) => {
  t.throws(() => tallyFaults(keys(1), keys(1, 2), []), /acknowledged but never published: plug#2/);
});

t.test('every message decodes into one energy reading whose value gives back its key', async (t) => {
  const site = faultSite(4, 2);
  const profiles = await loadProfiles();
  const devices = site.devices;
  t.same(
    devices.map((d) => d.profile),
    ['tasmota-energy', 'shelly-gen1', 'tasmota-energy', 'shelly-gen1'],
  );
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const m = timedMessage(i, devices.length);
    const device = devices[m.device];
    if (!device) throw new Error('no device');
    t.equal(m.counter, FIRST_COUNTER + Math.floor(i / 4));
    const { topic, payload } = faultPayload(device, m.counter, Date.UTC(2026, 5, 1, 12));
    const decoded = decodeMessage(profiles, topic, Buffer.from(payload), Date.UTC(2026, 5, 1, 12));
    if (!decoded.ok) throw new Error(`${topic}: ${decoded.detail}`);
    t.equal(decoded.profile.id, device.profile);
    const energy = decoded.result.readings.filter((r) => r.quantity === 'energy');
    t.equal(energy.length, 1, `${topic}: one energy reading`);
    const kwh = energy[0]?.value as number;
    t.equal(storedCounter(kwh), m.counter);
    seen.add(storedKey(device.id, kwh));
  }
  t.equal(seen.size, 12, 'twelve messages, twelve keys');
});
