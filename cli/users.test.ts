import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openRecords } from '../database/database.ts';
import { Identity } from '../members/identity.ts';
import { NORD, SUED } from '../test-support/two-sites.ts';
import { runWesprint } from '../test-support/wesprint-process.ts';

/** `wesprint users` and `wesprint lobby-token` as an operator runs them: real processes, a temp DATA_DIR. */

// Like a script would: either a piped password, or nothing on standard input.
const run = (args: string[], env: Record<string, string>, stdin?: string) =>
  runWesprint(args, env, stdin ?? '');

t.test('users add (piped or generated password), users list, lobby-token create', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-users-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const env = { DATA_DIR: dataDir };

  const piped = await run(
    ['users', 'add', '--email', 'Ada@Coop.example', '--role', 'facility', '--name', 'Ada'],
    env,
    'a-piped-password-1\n',
  );
  t.equal(piped.code, 0, piped.stderr);
  t.match(piped.stdout, /added ada@coop\.example \(facility, "Ada"\)/);
  t.notMatch(piped.stdout, /password/, 'a piped password is not echoed');

  const generated = await run(['users', 'add', '--email', 'ben@coop.example', '--role', 'member'], env);
  t.equal(generated.code, 0, generated.stderr);
  const shown = /password \(shown once\): (\S+)/.exec(generated.stdout)?.[1];
  t.ok(shown && shown.length >= 20, 'a generated password is printed once');

  const duplicate = await run(['users', 'add', '--email', 'BEN@coop.example', '--role', 'board'], env);
  t.equal(duplicate.code, 1);
  t.match(duplicate.stderr, /exists already/);
  const badRole = await run(['users', 'add', '--email', 'x@coop.example', '--role', 'janitor'], env);
  t.equal(badRole.code, 2);
  t.match(badRole.stderr, /unknown role "janitor"/);

  const list = await run(['users', 'list'], env);
  t.equal(list.code, 0, list.stderr);
  const rows = list.stdout
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  t.same(
    rows.map((r) => [r[0], r[1], r[2]]),
    [
      ['ada@coop.example', 'facility', 'active'],
      ['ben@coop.example', 'member', 'active'],
    ],
  );
  t.notOk(list.stdout.includes('scrypt'), 'no hashes listed');

  const token = await run(['lobby-token', 'create', '--label', 'Foyer'], env);
  t.equal(token.code, 0, token.stderr);
  const [, tokenId, secret] = /lobby token (\S+) created \(shown once\): (\S+)/.exec(token.stdout) ?? [];
  t.ok(tokenId && secret, 'token printed once');

  // What the API will check: the same records file.
  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  t.teardown(() => records.close());
  const identity = new Identity(records);
  t.equal((await identity.signIn('ada@coop.example', 'a-piped-password-1')).outcome, 'signed_in');
  t.equal((await identity.signIn('ben@coop.example', shown ?? '')).outcome, 'signed_in');
  t.ok(await identity.lobbyTokens.verify(secret ?? ''), 'the printed lobby token is valid');

  const revoke = await run(['lobby-token', 'revoke', tokenId ?? ''], env);
  t.equal(revoke.code, 0, revoke.stderr);
  t.notOk(await identity.lobbyTokens.verify(secret ?? ''), 'and revocable');
});

t.test('in a network: a member of one house, given a role in another', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-users-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const sites = path.join(dataDir, 'sites');
  fs.mkdirSync(sites);
  fs.writeFileSync(path.join(sites, '1-nord.site.json'), JSON.stringify(NORD));
  fs.writeFileSync(path.join(sites, '2-sued.site.json'), JSON.stringify(SUED));
  const env = { DATA_DIR: dataDir, SITES_DIR: sites };

  const added = await run(
    ['users', 'add', '--email', 'kim@coop.example', '--role', 'facility', '--site', 'sued'],
    env,
    'a-piped-password-2\n',
  );
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /added kim@coop\.example \(facility in sued/);
  const elsewhere = await run(
    ['users', 'add', '--email', 'x@coop.example', '--role', 'member', '--site', 'west'],
    env,
  );
  t.equal(elsewhere.code, 2);
  t.match(elsewhere.stderr, /unknown site "west" \(this installation serves "nord", "sued"\)/);

  const given = await run(
    ['users', 'role', '--email', 'kim@coop.example', '--site', 'nord', '--role', 'board'],
    env,
  );
  t.equal(given.code, 0, given.stderr);
  const home = await run(
    ['users', 'role', '--email', 'kim@coop.example', '--site', 'sued', '--role', 'admin'],
    env,
  );
  t.equal(home.code, 1, 'not at home: the home role is the member role');
  const list = await run(['users', 'list'], env);
  t.match(list.stdout, /kim@coop\.example\tfacility \(home sued, board in nord\)\tactive/);

  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  t.teardown(() => records.close());
  const nord = new Identity(records, { site: { id: 'nord' } });
  t.match(await nord.signIn('kim@coop.example', 'a-piped-password-2'), { member: { role: 'board' } });
  const none = await run(
    ['users', 'role', '--email', 'kim@coop.example', '--site', 'nord', '--role', 'none'],
    env,
  );
  t.equal(none.code, 0, none.stderr);
  t.match(await nord.signIn('kim@coop.example', 'a-piped-password-2'), { member: { role: 'member' } });
});
