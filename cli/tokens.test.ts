import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { openRecords } from '../database/database.ts';
import { Identity } from '../members/identity.ts';
import { openRecordStores } from '../records/records.ts';
import { testPostgres } from '../test-support/postgres.ts';
import { runWesprint } from '../test-support/wesprint-process.ts';

/** `wesprint tokens` as an operator runs it: real processes, a temp DATA_DIR, the demo site file. */

t.test('tokens create (printed once), list, revoke by label; mistakes said; audited', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-tokens-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const env = { DATA_DIR: dataDir };

  const created = await runWesprint(
    ['tokens', 'create', '--label', 'node-red', '--scope', 'readings:read,feed:read,commands:write'],
    env,
  );
  t.equal(created.code, 0, created.stderr);
  const [, id, secret] =
    /token (\S+) "node-red" created \(shown once\): (wsp_\S+)/.exec(created.stdout) ?? [];
  t.ok(id && secret, 'the token is printed once, with its shown id');
  t.match(created.stdout, /scopes: readings:read, feed:read, commands:write; site: any/);
  const forSite = await runWesprint(
    ['tokens', 'create', '--label', 'bms', '--scope', 'spaces:read', '--site', 'kaufhaus-am-markt'],
    env,
  );
  t.equal(forSite.code, 0, forSite.stderr);
  // A token that opens doors names them: a Protel room by its space, an office by its lock's device id.
  const doors = await runWesprint(
    [
      'tokens',
      'create',
      '--label',
      'door-flow',
      '--scope',
      'commands:write,unlock:write',
      '--locks',
      'og2-protel-01,og3-buero-01-lock',
    ],
    env,
  );
  t.equal(doors.code, 0, doors.stderr);
  t.match(
    doors.stdout,
    /scopes: commands:write, unlock:write; site: any; opens: og2-protel-01, og3-buero-01-lock/,
  );

  for (const [args, message] of [
    [['--label', 'x', '--scope', 'readings:write'], /unknown scope "readings:write"/],
    [['--label', 'node-red', '--scope', 'feed:read'], /labelled "node-red" already/],
    [
      ['--label', 'x', '--scope', 'feed:read', '--site', 'elsewhere'],
      /unknown site "elsewhere".*kaufhaus-am-markt/,
    ],
    [['--scope', 'feed:read'], /--label and --scope are required/],
    [['--label', 'x', '--scope', 'unlock:write'], /unlock:write needs --locks/],
    [
      ['--label', 'x', '--scope', 'commands:write', '--locks', 'og2-protel-01'],
      /--locks goes with the scope unlock:write/,
    ],
    [
      ['--label', 'x', '--scope', 'unlock:write', '--locks', 'og2-protel-01,og2-protel-99,og1-desk-n01'],
      /--locks "og2-protel-99", "og1-desk-n01": no space with a lock, nor a space's lock/,
    ],
  ] as const) {
    const refused = await runWesprint(['tokens', 'create', ...args], env);
    t.equal(refused.code, 2, `${args.join(' ')}: exit 2`);
    t.match(refused.stderr, message);
    t.equal(refused.stdout, '', 'nothing printed as if made');
  }

  const list = await runWesprint(['tokens', 'list'], env);
  t.equal(list.code, 0, list.stderr);
  const rows = list.stdout
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  t.same(rows[0], ['ID', 'LABEL', 'SCOPES', 'SITE', 'LOCKS', 'CREATED', 'LAST USED', 'STATUS']);
  t.same(
    rows.slice(1).map((r) => [r[0], r[1], r[2], r[3], r[4], r[6], r[7]]),
    [
      [id, 'node-red', 'readings:read,feed:read,commands:write', '*', '-', 'never', 'active'],
      [rows[2]?.[0], 'bms', 'spaces:read', 'kaufhaus-am-markt', '-', 'never', 'active'],
      [
        rows[3]?.[0],
        'door-flow',
        'commands:write,unlock:write',
        '*',
        'og2-protel-01,og3-buero-01-lock',
        'never',
        'active',
      ],
    ],
  );
  t.notOk(list.stdout.includes(secret ?? 'none'), 'never the secret');

  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  t.teardown(() => records.close());
  const identity = new Identity(records);
  t.equal(
    (await identity.integrationTokens.resolve(secret ?? ''))?.revokedAt,
    null,
    'what the API will find',
  );

  const revoked = await runWesprint(['tokens', 'revoke', 'node-red'], env);
  t.equal(revoked.code, 0, revoked.stderr);
  t.match(revoked.stdout, new RegExp(`token ${id} "node-red" revoked`));
  t.ok((await identity.integrationTokens.resolve(secret ?? ''))?.revokedAt, 'revoked in the records');
  const twice = await runWesprint(['tokens', 'revoke', 'node-red'], env);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /no active token "node-red"/);
  t.match((await runWesprint(['tokens', 'list'], env)).stdout, /node-red\t.*\trevoked \d{4}-/);

  const audit = (await new SqliteAuditLog(records).query({})).entries.reverse();
  t.same(
    audit.map((e) => [e.action, e.decision]),
    [
      ['token_create', 'granted'],
      ['token_create', 'granted'],
      ['token_create', 'granted'],
      ['token_revoke', 'granted'],
      ['token_revoke', 'denied'],
    ],
  );
  t.equal((await runWesprint(['tokens', 'rotate'], env)).code, 2, 'an unknown subcommand');

  // A network (SITES_DIR): any of its sites.
  const network = { ...env, SITES_DIR: path.resolve(import.meta.dirname, '../simulations/network') };
  const weimar = await runWesprint(
    ['tokens', 'create', '--label', 'weimar', '--scope', 'feed:read', '--site', 'werkhof-weimar'],
    network,
  );
  t.equal(weimar.code, 0, weimar.stderr);
  const nowhere = await runWesprint(
    ['tokens', 'create', '--label', 'x', '--scope', 'feed:read', '--site', 'nowhere'],
    network,
  );
  t.match(
    nowhere.stderr,
    /unknown site "nowhere" \(this installation serves "kaufhaus-am-markt", "werkhof-weimar"/,
  );
});

t.test('with DATABASE_URL the tokens are PostgreSQL’s, where the API on it reads them', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-tokens-pg-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const env = { DATA_DIR: dataDir, DATABASE_URL: server.url };
  const created = await runWesprint(['tokens', 'create', '--label', 'node-red', '--scope', 'feed:read'], env);
  t.equal(created.code, 0, created.stderr);
  const [, secret] = /created \(shown once\): (wsp_\S+)/.exec(created.stdout) ?? [];
  t.match((await runWesprint(['tokens', 'list'], env)).stdout, /\tnode-red\tfeed:read\t/);

  const records = await openRecordStores({ dataDir, databaseUrl: server.url });
  t.teardown(() => records.close());
  t.equal(
    (await records.integrationTokens.resolve(secret as string))?.label,
    'node-red',
    'the API would know it',
  );
  t.same(
    (await records.audit.query({})).entries.map((e) => e.action),
    ['token_create'],
    'audited there too',
  );
  t.notOk(fs.existsSync(path.join(dataDir, 'wesprint.db')), 'no records file beside it');
});
