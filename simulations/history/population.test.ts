import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openRecords } from '../../database/database.ts';
import { Identity } from '../../members/identity.ts';
import { recordsContract } from '../../test-support/records.ts';
import { ensureSimulatedMembers, SIMULATED_MEMBERS, simulatedMemberEmail } from './population.ts';

t.test('the simulated population: members who book but cannot sign in', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-population-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => records.close());
  const identity = new Identity(records);
  const ids = await ensureSimulatedMembers(identity, 'kaufhaus-am-markt');
  t.equal(ids.length, SIMULATED_MEMBERS);
  t.equal(new Set(ids).size, SIMULATED_MEMBERS);
  t.same(
    await ensureSimulatedMembers(identity, 'kaufhaus-am-markt'),
    ids,
    'made once, the same on a later start',
  );
  t.equal(await identity.members.count(), SIMULATED_MEMBERS);
  const first = await identity.members.findByEmail(simulatedMemberEmail('kaufhaus-am-markt', 1));
  t.match(first, {
    email: 'sim-01@kaufhaus-am-markt.local',
    name: 'Simuliertes Mitglied 01',
    role: 'member',
  });
  for (const password of ['', '!no-sign-in', 'some password'])
    t.match(
      await identity.signIn('sim-01@kaufhaus-am-markt.local', password),
      { outcome: 'invalid' },
      `no sign-in with "${password}"`,
    );
  t.notOk(
    fs.readdirSync(dir).some((f) => !f.startsWith('wesprint.db')),
    'no file of secrets written',
  );
});

recordsContract(
  t,
  "a house's population made before it had a home site is given its house, and nobody who signs in",
  async (t, records) => {
    const identity = new Identity(records);
    // As an earlier version made the Werkhof's population: no home site (the installation's home site's).
    const before = await identity.members.createWithoutSignIn({
      email: simulatedMemberEmail('werkhof-weimar', 1),
      role: 'member',
      name: 'Simuliertes Mitglied 01',
    });
    t.equal(before.homeSite, undefined);
    const ids = await ensureSimulatedMembers(identity, 'werkhof-weimar', { homeSite: 'werkhof-weimar' });
    t.equal(ids[0], before.id, 'the same member, its bookings still theirs');
    const members = await identity.members.list();
    t.same(
      [...new Set(members.map((m) => m.homeSite))],
      ['werkhof-weimar'],
      'all forty at home in the Werkhof',
    );
    // A member who signs in, with the e-mail a simulated member would have: never changed here.
    const person = await records.member('member');
    const same = await identity.members.createWithoutSignIn({
      email: person.email,
      role: 'member',
      name: 'x',
      homeSite: 'werkhof-weimar',
    });
    t.equal(same.id, person.id);
    t.equal((await identity.members.findByEmail(person.email))?.homeSite, person.homeSite);
  },
);
