import t from 'tap';
import {
  guestVisit,
  homeSiteOf,
  isGuestAt,
  openToGuests,
  readsNetwork,
  roleAt,
  STAFF,
  sitesWithRole,
} from './roles.ts';

t.test('a role is per site: the facility manager of A is a plain member in B', async (t) => {
  const kim = { role: 'facility' as const, homeSite: 'a' };
  t.equal(roleAt(kim, 'a', 'a'), 'facility');
  t.equal(roleAt(kim, 'b', 'a'), 'member');
  t.ok(isGuestAt(kim, 'b', 'a'));
  t.notOk(isGuestAt(kim, 'a', 'a'));
  const twoHouses = { ...kim, siteRoles: { b: 'board' as const } };
  t.equal(roleAt(twoHouses, 'b', 'a'), 'board');
  t.notOk(isGuestAt(twoHouses, 'b', 'a'), 'a role given there: no guest');
  t.same(sitesWithRole(twoHouses, STAFF, ['a', 'b', 'c'], 'a'), ['a'], 'staff views: only where staff');
  // Members from before the network name no home: theirs is the installation's home site.
  const old = { role: 'admin' as const };
  t.equal(homeSiteOf(old, 'a'), 'a');
  t.equal(roleAt(old, 'a', 'a'), 'admin');
  t.equal(roleAt(old, 'b', 'a'), 'member');
});

t.test("a site's guest rules: closed unless a rule opens a kind to the guest's home site", async (t) => {
  const rules = [
    { from: ['a'], kinds: ['desk', 'meeting_room'] },
    { from: ['*'], kinds: ['desk'] },
  ];
  t.ok(openToGuests(rules, 'a', 'meeting_room'));
  t.ok(openToGuests(rules, 'c', 'desk'), '`*`: every other site');
  t.notOk(openToGuests(rules, 'c', 'meeting_room'));
  t.notOk(openToGuests(rules, 'a', 'protel'), 'Protel rooms: no');
  t.notOk(openToGuests(undefined, 'a', 'desk'), 'no guests without rules');
  t.notOk(openToGuests([], 'a', 'desk'));
});

t.test(
  'a visit: a guest comes with their home site and the house rules, one of its own without',
  async (t) => {
    const rules = [{ from: ['*'], kinds: ['desk'] }];
    const site = { id: 'b', guests: rules };
    t.same(guestVisit({ role: 'admin', homeSite: 'a' }, site, 'a'), { from: 'a', rules });
    t.equal(guestVisit({ role: 'member', homeSite: 'b' }, site, 'a'), undefined);
    t.equal(guestVisit({ role: 'member', homeSite: 'a', siteRoles: { b: 'member' } }, site, 'a'), undefined);
    t.same(
      guestVisit({ role: 'member' }, site, 'a'),
      { from: 'a', rules },
      'no home named: the installation home',
    );
  },
);

t.test(
  "the network's board: board or admin in every house, as stored or as another house's API sees them",
  async (t) => {
    const sites = ['a', 'b', 'c'];
    const everywhere = {
      role: 'board' as const,
      homeSite: 'a',
      siteRoles: { b: 'admin' as const, c: 'board' as const },
    };
    t.ok(readsNetwork(everywhere, sites, 'a'));
    t.notOk(readsNetwork({ ...everywhere, siteRoles: { b: 'admin' as const } }, sites, 'a'), 'not in c: no');
    t.notOk(
      readsNetwork(
        { role: 'facility' as const, siteRoles: { b: 'facility' as const, c: 'facility' as const } },
        sites,
        'a',
      ),
      'facility managers of every house run buildings, they do not read the network',
    );
    t.notOk(readsNetwork(everywhere, [], 'a'), 'no houses, nothing to read');
    // Seen by b's API (members/member-store.ts membersSeenFrom): role is b's, the role at home kept beside it.
    const seenFromB = { ...everywhere, role: 'admin' as const, homeRole: 'board' as const };
    t.equal(roleAt(seenFromB, 'a', 'a'), 'board');
    t.ok(readsNetwork(seenFromB, sites, 'a'));
    const boardOfAOnly = { role: 'board' as const, homeSite: 'a' };
    const seenThere = { ...boardOfAOnly, role: 'member' as const, homeRole: 'board' as const };
    t.equal(roleAt(seenThere, 'b', 'a'), 'member');
    t.equal(roleAt(seenThere, 'a', 'a'), 'board', 'without homeRole this would read b’s role as a’s');
    t.notOk(readsNetwork(seenThere, ['a', 'b'], 'a'));
  },
);
