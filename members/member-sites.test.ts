import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
import { Identity } from './identity.ts';
import { MemberError } from './member-store.ts';

/** Members belong to the network, roles are per site: on the real records file (migration 0070). */

recordsContract(t, 'a member is seen with their role in the site the identity serves', async (t, records) => {
  const { member: kim, password } = await records.members.create({
    email: 'kim@nord.example',
    role: 'facility',
    homeSite: 'nord',
  });
  const nord = new Identity(records, { site: { id: 'nord', installationHome: 'nord' } });
  const sued = new Identity(records, { site: { id: 'sued', installationHome: 'nord' } });

  const atHome = await nord.signIn(kim.email, password);
  t.match(atHome, { outcome: 'signed_in', member: { role: 'facility', homeSite: 'nord' } });
  const away = await sued.signIn(kim.email, password);
  t.match(away, { outcome: 'signed_in', member: { role: 'member' } }, 'a plain member in Süd');
  if (away.outcome !== 'signed_in') return;
  t.equal((await sued.sessions.resolve(away.token))?.role, 'member', 'and so is every session there');

  const store = records.members;
  await store.setSiteRole(kim.id, 'sued', 'facility');
  t.equal((await sued.sessions.resolve(away.token))?.role, 'facility', 'a role given in Süd counts at once');
  t.same((await store.findActive(kim.id))?.siteRoles, { sued: 'facility' });
  t.same((await sued.members.list()).find((m) => m.id === kim.id)?.role, 'facility');
  await store.setSiteRole(kim.id, 'sued', null);
  t.equal((await sued.sessions.resolve(away.token))?.role, 'member', 'and taken back');

  await t.rejects(
    store.setSiteRole(kim.id, 'nord', 'admin'),
    MemberError,
    'the home role is the member role',
  );
  await t.rejects(store.setSiteRole(kim.id, 'Not A Site', 'admin'), MemberError);
  await t.rejects(store.setSiteRole('nobody', 'sued', 'admin'), MemberError);
});

recordsContract(
  t,
  'members from before the network belong to the installation home site',
  async (t, records) => {
    const { member: old, password } = await records.members.create({
      email: 'old@kaufhaus.example',
      role: 'admin',
    });
    t.equal(old.homeSite, undefined);
    const home = new Identity(records, { site: { id: 'kaufhaus', installationHome: 'kaufhaus' } });
    const other = new Identity(records, { site: { id: 'werkhof', installationHome: 'kaufhaus' } });
    t.match(await home.signIn(old.email, password), { member: { role: 'admin' } });
    t.match(await other.signIn(old.email, password), { member: { role: 'member' } });
    // Without a site, as every identity was before the network: the stored role.
    t.match(await new Identity(records).signIn(old.email, password), { member: { role: 'admin' } });
    await t.rejects(
      records.members.create({ email: 'x@y.z', role: 'member', homeSite: '../etc' }),
      MemberError,
    );
  },
);

recordsContract(t, 'a lobby token belongs to one site: another site refuses it', async (t, records) => {
  const nord = new Identity(records, { site: { id: 'nord' } });
  const sued = new Identity(records, { site: { id: 'sued', installationHome: 'nord' } });
  const ofNord = await nord.lobbyTokens.create('Foyer Nord', undefined, 'nord');
  const any = await nord.lobbyTokens.create('anywhere');
  t.ok(await nord.lobbyTokens.verify(ofNord.token));
  t.notOk(await sued.lobbyTokens.verify(ofNord.token), "Nord's lobby screen shows nothing of Süd");
  t.ok(await sued.lobbyTokens.verify(any.token), 'a token naming no site: as before');
  t.same(
    (await nord.lobbyTokens.list()).map((l) => [l.label, l.site]),
    [
      ['Foyer Nord', 'nord'],
      ['anywhere', null],
    ],
  );
  await t.rejects(nord.lobbyTokens.create('bad', undefined, 'Not A Site'), MemberError);
});
