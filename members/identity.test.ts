import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { openRecords } from '../database/database.ts';
import { recordsContract } from '../test-support/records.ts';
import {
  adminCredentialsFile,
  demoLobbyTokenFile,
  demoMembersFile,
  ensureDemoLobbyToken,
  ensureDemoMembers,
  ensureFirstAdmin,
} from './first-start.ts';
import { Identity, type SignInEvent } from './identity.ts';
import { MEMBER_SCRYPT_N, MemberError } from './member-store.ts';
import { auditSignIns } from './sign-in-audit.ts';
import { tokenId } from './tokens.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function setup(t: Test, options: ConstructorParameters<typeof Identity>[1] = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-members-'));
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => {
    records.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, records, identity: new Identity(records, options) };
}

recordsContract(
  t,
  'members: e-mail lower-cased and unique, scrypt hash, never the plaintext',
  async (t, records) => {
    const identity = new Identity(records);
    const { member, password } = await identity.members.create({
      email: ' Ada@Example.ORG ',
      role: 'member',
    });
    t.equal(member.email, 'ada@example.org');
    t.equal(member.name, 'ada', 'a name from the e-mail when none is given');
    t.ok(password.length >= 20, 'a generated password is long');
    const [hash] = (await records.column(
      `SELECT password_hash FROM members WHERE id = '${member.id}'`,
    )) as string[];
    t.match(hash, new RegExp(`^scrypt\\$${MEMBER_SCRYPT_N}\\$8\\$1\\$`), 'scrypt with N = 2^15');
    t.notOk(hash?.includes(password));
    await t.rejects(identity.members.create({ email: 'ADA@example.org', role: 'board' }), MemberError);
    await t.rejects(identity.members.create({ email: 'not-an-address', role: 'member' }), MemberError);
    await t.rejects(
      identity.members.create({ email: 'x@y.org', role: 'member', password: 'short' }),
      /10 to 1024/,
    );
    await t.rejects(
      identity.members.create({ email: 'x@y.org', role: 'janitor' as never }),
      /unknown role "janitor"/,
    );
    t.same(await identity.members.findByEmail('ADA@EXAMPLE.ORG'), member);
    t.same(
      (await identity.members.list()).map((m) => ({ email: m.email, disabled: m.disabled })),
      [{ email: 'ada@example.org', disabled: false }],
    );
    t.same(Object.keys((await identity.members.list())[0] ?? {}).sort(), [
      'createdAt',
      'disabled',
      'email',
      'id',
      'name',
      'role',
    ]);

    t.same(await identity.members.verify('ada@example.org', password), member);
    t.equal(await identity.members.verify('ada@example.org', `${password}x`), undefined, 'wrong password');
    t.equal(await identity.members.verify('nobody@example.org', password), undefined, 'unknown e-mail');
    await identity.members.setDisabled(member.id, true);
    t.equal(await identity.members.verify('ada@example.org', password), undefined, 'disabled member');
    await records.exec(`UPDATE members SET password_hash = 'garbage' WHERE id = '${member.id}'`);
    await identity.members.setDisabled(member.id, false);
    t.equal(
      await identity.members.verify('ada@example.org', password),
      undefined,
      'a broken hash is no crash',
    );
  },
);

recordsContract(
  t,
  'sessions: stored hashed, sliding idle end, absolute end, sign-out',
  async (t, records) => {
    const identity = new Identity(records);
    const { member } = await identity.members.create({ email: 'ben@example.org', role: 'facility' });
    const t0 = Date.UTC(2026, 10, 2, 8);
    const { token, expiresAt } = await identity.sessions.start(member.id, t0);
    t.equal(expiresAt, t0 + 30 * 24 * HOUR);
    t.equal(Buffer.from(token, 'base64url').length, 32, '32 random bytes');
    const stored = await records.column('SELECT id FROM sessions');
    t.same(stored, [tokenId(token)], 'only the SHA-256 of the token is stored');

    t.same(await identity.sessions.resolve(token, t0 + 11 * HOUR), member, 'used within 12 h');
    t.same(
      await identity.sessions.resolve(token, t0 + 22 * HOUR),
      member,
      'sliding: 11 h after the last use',
    );
    t.equal(await identity.sessions.resolve(token, t0 + 35 * HOUR), undefined, 'over 12 h unused: ended');
    t.equal(await records.scalar('SELECT count(*) FROM sessions'), 0, 'and deleted');

    const busy = await identity.sessions.start(member.id, t0);
    let alive = 0;
    for (let now = t0 + 10 * HOUR; now < t0 + 30 * 24 * HOUR; now += 10 * HOUR) {
      if (await identity.sessions.resolve(busy.token, now)) alive++;
    }
    t.equal(alive, 71, 'kept alive by use every 10 h for 30 days');
    t.equal(
      await identity.sessions.resolve(busy.token, t0 + 30 * 24 * HOUR),
      undefined,
      'never beyond 30 days',
    );

    const other = await identity.sessions.start(member.id);
    t.ok(await identity.sessions.end(other.token));
    t.equal(await identity.sessions.resolve(other.token), undefined, 'signed out');
    t.notOk(await identity.sessions.end(other.token), 'a second sign-out finds nothing');
    t.equal(await identity.sessions.resolve('made-up-token'), undefined);

    const last = await identity.sessions.start(member.id);
    await identity.members.setDisabled(member.id, true);
    t.equal(await identity.sessions.resolve(last.token), undefined, 'disabling a member ends their sessions');
  },
  { sessionLifetime: { idleMs: 12 * HOUR, absoluteMs: 30 * 24 * HOUR } },
);

recordsContract(t, 'lobby tokens: shown once, stored hashed, revocable', async (t, records) => {
  const identity = new Identity(records);
  const a = await identity.lobbyTokens.create('Foyer screen');
  const b = await identity.lobbyTokens.create('  ');
  t.ok(await identity.lobbyTokens.verify(a.token));
  t.notOk(await identity.lobbyTokens.verify(`${a.token}x`));
  t.notOk(JSON.stringify(await records.column('SELECT id FROM lobby_tokens')).includes(a.token));
  t.same(
    (await identity.lobbyTokens.list()).map((l) => [l.id, l.label, l.revokedAt]),
    [
      [a.id, 'Foyer screen', null],
      [b.id, 'lobby screen', null],
    ],
  );
  t.notOk(await identity.lobbyTokens.revoke('zz-not-hex'));
  t.notOk(await identity.lobbyTokens.revoke('abcdef0123'), 'unknown id');
  t.ok(await identity.lobbyTokens.revoke(a.id));
  t.notOk(await identity.lobbyTokens.verify(a.token), 'revoked');
  t.ok(await identity.lobbyTokens.verify(b.token), 'the other still works');
  t.notOk(await identity.lobbyTokens.revoke(a.id), 'revoking twice finds nothing');
});

recordsContract(
  t,
  'sign-in: same answer for unknown and wrong; waits per e-mail and address; events for the audit log',
  async (t, records) => {
    const events: SignInEvent[] = [];
    const identity = new Identity(records, { onSignIn: (e) => void events.push(e) });
    const { member, password } = await identity.members.create({ email: 'cem@example.org', role: 'member' });
    const t0 = Date.UTC(2026, 10, 2, 8);
    const here = { ip: '127.0.0.9' };
    const elsewhere = { ip: '10.9.9.9' };
    const level = async (scope: string, email: string, address: string) =>
      (
        await records.column(
          `SELECT level FROM sign_in_failures WHERE scope = '${scope}' AND email = '${email}' AND address = '${address}'`,
        )
      )[0] as number | undefined;

    t.same(await identity.signIn('nobody@example.org', password, { now: t0, ...here }), {
      outcome: 'invalid',
    });
    t.same(await identity.signIn('cem@example.org', 'wrong-password', { now: t0, ...here }), {
      outcome: 'invalid',
    });
    t.equal(await level('account_address', 'cem@example.org', here.ip), 1, 'the failure is counted');
    const ok = await identity.signIn('CEM@example.org', password, { now: t0, ...here });
    t.match(ok, { outcome: 'signed_in', member, token: String });
    t.equal(
      await level('account_address', 'cem@example.org', here.ip),
      0,
      'a right password clears its pair',
    );
    t.equal(await level('account', 'cem@example.org', ''), 1, 'the account keeps the earlier failure');
    t.equal(await level('address', '', here.ip), 2, 'and so does the address (the right one is taken back)');

    for (let i = 0; i < 4; i++) {
      const r = await identity.signIn('cem@example.org', `wrong-${i}`, { now: t0 + i * MIN, ...elsewhere });
      t.equal(r.outcome, 'invalid', `failure ${i + 1} from elsewhere is checked`);
    }
    const held = await identity.signIn('cem@example.org', password, {
      now: t0 + 3 * MIN + 1000,
      ...elsewhere,
    });
    t.same(
      held,
      { outcome: 'throttled', until: t0 + 3 * MIN + 5000, retryAfterMs: 4000, scope: 'account_address' },
      'the fourth failure from one address makes that address wait 5 s, even with the right password',
    );
    t.equal(
      (await identity.signIn('cem@example.org', password, { now: t0 + 3 * MIN + 1000, ...here })).outcome,
      'signed_in',
      'the owner at their own address is not held back',
    );
    const after = await identity.signIn('cem@example.org', password, {
      now: t0 + 3 * MIN + 5000,
      ...elsewhere,
    });
    t.equal(after.outcome, 'signed_in', 'the wait ends');

    for (let i = 0; i < 4; i++)
      await identity.signIn('ghost@example.org', 'guess-guess', { now: t0 + i, ...elsewhere });
    t.match(
      await identity.signIn('ghost@example.org', 'guess-guess', { now: t0 + 10, ...elsewhere }),
      { outcome: 'throttled', scope: 'account_address' },
      'unknown e-mails wait the same way (no hint who is a member)',
    );

    t.same(
      events.map((e) => [e.outcome, e.memberId]),
      [
        ['invalid', null],
        ['invalid', member.id],
        ['signed_in', member.id],
        ['invalid', member.id],
        ['invalid', member.id],
        ['invalid', member.id],
        ['invalid', member.id],
        ['throttled', member.id],
        ['signed_in', member.id],
        ['signed_in', member.id],
        ['invalid', null],
        ['invalid', null],
        ['invalid', null],
        ['invalid', null],
        ['throttled', null],
      ],
    );
    t.same(events[7]?.throttle, { scope: 'account_address', retryAfterMs: 4000 });
    t.equal(events[2]?.ip, '127.0.0.9');
    t.notOk(JSON.stringify(events).includes(password), 'no password in any event');

    identity.onSignIn = () => {
      throw new Error('audit down');
    };
    t.equal(
      (await identity.signIn('cem@example.org', password)).outcome,
      'signed_in',
      'a failing listener blocks nothing',
    );
  },
);

t.test(
  'an IPv6 client is counted by its /64: fresh addresses from it bring no fresh free failures',
  async (t) => {
    const { identity } = setup(t);
    const { password } = await identity.members.create({ email: 'eli@example.org', role: 'member' });
    const t0 = Date.UTC(2026, 10, 2, 8);
    for (let i = 1; i <= 4; i++)
      t.equal(
        (await identity.signIn('eli@example.org', 'guess-guess', { now: t0, ip: `2001:db8:1:2::${i}` }))
          .outcome,
        'invalid',
      );
    t.match(await identity.signIn('eli@example.org', password, { now: t0, ip: '2001:db8:1:2::beef' }), {
      outcome: 'throttled',
      scope: 'account_address',
    });
    t.equal(
      (await identity.signIn('eli@example.org', password, { now: t0, ip: '2001:db8:1:3::1' })).outcome,
      'signed_in',
      'the next /64 is elsewhere',
    );
  },
);

t.test('counts are forgotten once drained; proofs after 30 days', async (t) => {
  const { identity } = setup(t);
  const { password } = await identity.members.create({ email: 'fay@example.org', role: 'member' });
  const t0 = Date.UTC(2026, 10, 2, 8);
  for (let i = 0; i < 20; i++)
    await identity.signIn(`guess-${i}@example.org`, 'guess-guess', { now: t0, ip: '198.51.100.7' });
  await identity.signIn('fay@example.org', password, { now: t0, ip: '192.0.2.1' });
  t.equal(
    await identity.failures.size(),
    20 + 20 + 1 + 1,
    'per e-mail and per pair 20 each, the address, the proof',
  );
  await identity.signIn('fay@example.org', password, { now: t0 + 2 * DAY, ip: '192.0.2.2' });
  t.equal(await identity.failures.size(), 2, 'two days later only the proofs are left');
  await identity.signIn('fay@example.org', 'wrong-password', { now: t0 + 31 * DAY, ip: '192.0.2.3' });
  t.equal(
    await identity.failures.size(),
    4,
    'after 30 days the first proof is gone too: the other, and the new failure',
  );
});

t.test('sign-ins land in the access audit log, without passwords', async (t) => {
  const { identity, records } = setup(t);
  const audit = new SqliteAuditLog(records);
  identity.onSignIn = auditSignIns(audit);
  const { member, password } = await identity.members.create({ email: 'dora@example.org', role: 'board' });
  await identity.signIn('dora@example.org', 'not-her-password', { ip: '10.0.0.1' });
  const ok = await identity.signIn('dora@example.org', password, { ip: '10.0.0.1' });
  if (ok.outcome !== 'signed_in') throw new Error('sign-in failed');
  await identity.signOut(ok.token);
  const entries = (await audit.query()).entries.reverse();
  t.match(entries, [
    {
      action: 'login',
      actor: member.id,
      decision: 'denied',
      reason: 'wrong_credentials',
      detail: { ip: '10.0.0.1' },
    },
    { action: 'login', actor: member.id, decision: 'granted', reason: 'password' },
    { action: 'logout', actor: member.id, decision: 'granted' },
  ]);
  t.notOk(JSON.stringify(entries).includes(password));
  t.notOk(JSON.stringify(entries).includes('not-her-password'));
});

t.test('first start: an admin with a generated password in a 0600 file; demo members once', async (t) => {
  const { identity, dir } = setup(t);
  const dataDir = path.join(dir, 'data');
  const demo = await ensureDemoMembers(identity, { siteId: 'haus', dataDir });
  t.equal(demo.created.length, 5, 'three members, a facility manager, a board member');
  t.same(demo.created.map((m) => m.role).sort(), ['board', 'facility', 'member', 'member', 'member']);
  t.equal(fs.statSync(demoMembersFile(dataDir)).mode & 0o777, 0o600);

  const admin = await ensureFirstAdmin(identity, { siteId: 'haus', dataDir, email: undefined });
  if (!admin) throw new Error('no admin made although none existed');
  t.equal(admin.email, 'admin@haus.local');
  t.equal(fs.statSync(adminCredentialsFile(dataDir)).mode & 0o777, 0o600);
  t.match(fs.readFileSync(adminCredentialsFile(dataDir), 'utf8'), `password: ${admin.password}`);
  t.equal((await identity.signIn(admin.email, admin.password)).outcome, 'signed_in');
  t.equal(await ensureFirstAdmin(identity, { siteId: 'haus', dataDir }), undefined, 'only once');

  const again = await ensureDemoMembers(identity, { siteId: 'haus', dataDir });
  t.same(again.created, [], 'demo members are made once');
  // In a network the demo's board is the network's board: board in the other houses too.
  t.same((await identity.members.findByEmail('board@haus.local'))?.siteRoles ?? {}, {}, 'one house: none');
  await ensureDemoMembers(identity, { siteId: 'haus', dataDir, networkSites: ['haus', 'hof', 'laden'] });
  t.same((await identity.members.findByEmail('board@haus.local'))?.siteRoles, {
    hof: 'board',
    laden: 'board',
  });
  const file = JSON.parse(fs.readFileSync(demoMembersFile(dataDir), 'utf8')) as {
    members: { email: string }[];
  };
  t.equal(file.members.length, 5, 'and the file still lists them');
  for (const m of demo.created) t.equal((await identity.signIn(m.email, m.password)).outcome, 'signed_in');

  const other = setup(t);
  const named = await ensureFirstAdmin(other.identity, {
    siteId: 'haus',
    dataDir: path.join(other.dir, 'd'),
    email: 'Chair@Coop.example',
  });
  t.equal(named?.email, 'chair@coop.example', 'ADMIN_EMAIL chooses the address');
});

t.test('the demo lobby screen: one token kept in a 0600 file, replaced when revoked', async (t) => {
  const { identity, dir } = setup(t);
  const dataDir = path.join(dir, 'data');
  const token = await ensureDemoLobbyToken(identity, { dataDir });
  t.ok(await identity.lobbyTokens.verify(token), 'a working lobby token');
  t.equal(fs.statSync(demoLobbyTokenFile(dataDir)).mode & 0o777, 0o600);
  t.equal(await ensureDemoLobbyToken(identity, { dataDir }), token, 'kept across starts');
  const [listed] = await identity.lobbyTokens.list();
  t.ok(listed && (await identity.lobbyTokens.revoke(listed.id)));
  const replaced = await ensureDemoLobbyToken(identity, { dataDir });
  t.not(replaced, token, 'a revoked token is replaced');
  t.ok(await identity.lobbyTokens.verify(replaced));
});

recordsContract(
  t,
  'counting attempts is one step: parallel guesses over two connections pass no more than one after another',
  async (t, records) => {
    const other = await records.another();
    const now = Date.UTC(2026, 10, 2, 8);
    // One after another: how many attempts of one e-mail from one address are let through at one instant.
    let inTurn = 0;
    for (let i = 0; i < 30; i++)
      if (!('until' in (await records.failures.attempt('seq@example.org', '10.1.1.1', now)))) inTurn++;
    // All at once, half on each connection: never more, whatever the interleaving.
    const atOnce = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? other : records).failures.attempt('par@example.org', '10.2.2.2', now),
      ),
    );
    t.ok(inTurn > 0 && inTurn < 30, `the rule lets ${inTurn} through, then makes them wait`);
    t.equal(atOnce.filter((a) => !('until' in a)).length, inTurn, 'the same number through when parallel');
  },
);
