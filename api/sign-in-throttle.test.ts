import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { openRecords } from '../database/database.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { createTestMember } from '../test-support/members.ts';
import { smallBuilding, testProfiles } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';

/**
 * Two API processes' worth of the API (each its own connection to one records file, each listening on
 * its own port), one clock the test moves, and real HTTP requests from chosen loopback addresses: the
 * waits after failed sign-ins are shared through the records database, and an attacker cannot keep the
 * owner out from the owner's address.
 */

interface Answer {
  status: number;
  retryAfter: number | null;
  message: string;
}

function postLogin(port: number, from: string, email: string, password: string): Promise<Answer> {
  const body = JSON.stringify({ email, password });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        method: 'POST',
        path: '/api/auth/login',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const header = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: header === undefined ? null : Number(header),
            message: String((JSON.parse(text) as { message?: string }).message ?? ''),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function twoApis(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-throttle-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'wesprint.db');
  // The application's clock, moved by the test; it starts at the real time so nothing depends on the hour.
  const clock = { now: Date.now() };
  const ports: number[] = [];
  const connections = [];
  for (const name of ['a', 'b']) {
    const records = openRecords(file);
    connections.push(records);
    const site = smallBuilding();
    const store = new SqliteStore({ file: path.join(dir, `readings-${name}.db`) });
    const quarantine = new Quarantine(path.join(dir, `gateway-${name}.db`));
    const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
    const app = await buildApi({
      site,
      store,
      feed,
      quarantine,
      profiles: testProfiles(),
      records,
      now: () => clock.now,
      // The per-process request limit is not what is tested here.
      loginRateLimit: { max: 10_000, timeWindowMs: 60_000 },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    ports.push((app.server.address() as AddressInfo).port);
    t.teardown(async () => {
      await app.close();
      await feed.close();
      quarantine.close();
      await store.close();
      records.close();
    });
  }
  const [a, b] = ports as [number, number];
  return { a, b, clock, records: connections[0] as (typeof connections)[number] };
}

t.test('two API instances on one records file share the waits after failed sign-ins', async (t) => {
  const { a, b, clock, records } = await twoApis(t);
  const { member: admin, password } = await createTestMember(records, { role: 'admin' });
  const attacker = '127.0.0.66';
  const home = '127.0.0.10';

  // The owner signed in from home once, through instance A.
  t.equal((await postLogin(a, home, admin.email, password)).status, 200, 'the owner signs in at home');

  // The attacker alternates between the instances: three free failures, the fourth sets a wait.
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++)
    statuses.push((await postLogin(i % 2 ? b : a, attacker, admin.email, `guess-${i}`)).status);
  t.same(statuses, [401, 401, 401, 401], 'four failures across both instances are checked');
  const heldA = await postLogin(a, attacker, admin.email, 'guess-4');
  const heldB = await postLogin(b, attacker, admin.email, password);
  t.equal(heldA.status, 429, 'instance A holds the attacker back');
  t.equal(heldB.status, 429, 'so does instance B, even for the right password: it is not checked');
  t.equal(heldA.retryAfter, 5, 'Retry-After: the first wait is 5 s');
  t.match(heldA.message, /too many failed sign-ins for this account from this address; try again in 5 s/);

  t.equal(
    (await postLogin(b, home, admin.email, password)).status,
    200,
    'the owner at home is not held back',
  );
  t.equal(
    (await postLogin(a, '127.0.0.11', admin.email, password)).status,
    200,
    'nor from a new address while the account has few failures',
  );

  // The attacker goes on, each time as soon as Retry-After allows: the waits double, and each one is kept.
  const waits: number[] = [];
  for (let i = 0; i < 12; i++) {
    const answer = await postLogin(i % 2 ? a : b, attacker, admin.email, `guess-more-${i}`);
    if (answer.status === 429) {
      waits.push(answer.retryAfter as number);
      t.equal(
        (await postLogin(i % 2 ? b : a, attacker, admin.email, `early-${i}`)).status,
        429,
        'trying early on the other instance is refused too',
      );
      clock.now += (answer.retryAfter as number) * 1000;
    } else t.equal(answer.status, 401);
  }
  t.same(waits.slice(0, 5), [5, 10, 20, 40, 80], 'the waits double from 5 s');
  t.equal(
    records
      .prepare("SELECT count(*) FROM sign_in_failures WHERE scope = 'account_address' AND address = ?")
      .pluck()
      .get(attacker),
    1,
    'one count row for the attacker at this account, not one per failure',
  );

  // Many addresses, each within its free failures: the account's own count makes strangers wait.
  const botnet: number[] = [];
  for (let n = 0; n < 4; n++)
    for (let i = 0; i < 3; i++)
      botnet.push((await postLogin(i % 2 ? a : b, `127.0.1.${n + 1}`, admin.email, `bot-${n}-${i}`)).status);
  t.equal(botnet[0], 401, 'a guess from a new address is checked ...');
  t.equal(botnet.at(-1), 429, '... until the account has failed more than ten times lately');
  const stranger = await postLogin(b, '127.0.0.12', admin.email, password);
  t.equal(
    stranger.status,
    429,
    'an address the account never signed in from waits: the account is under attack',
  );
  t.match(stranger.message, /for this account from addresses it has not signed in from/);
  t.equal(
    (await postLogin(a, home, admin.email, password)).status,
    200,
    'the owner at home still signs in at once',
  );
  t.equal(
    (await postLogin(b, '127.0.0.11', admin.email, password)).status,
    200,
    'and from the address they signed in from earlier',
  );

  const audit = (await new SqliteAuditLog(records).query({ action: 'login', limit: 500 })).entries;
  const throttled = audit.filter((e) => e.reason === 'throttled');
  t.ok(throttled.length >= 1 + 12, 'every held-back attempt is audited');
  t.ok(
    throttled.every(
      (e) => e.decision === 'denied' && e.actor === admin.id && typeof e.detail.retryAfterS === 'number',
    ),
    'as denied, with the account and the wait',
  );
  const scopes = (ip: string) => [
    ...new Set(throttled.filter((e) => e.detail.ip === ip).map((e) => e.detail.throttle)),
  ];
  t.same(scopes(attacker), ['account_address'], 'the attacker is held back by its own count');
  t.same(scopes('127.0.0.12'), ['account'], 'the stranger by the count of the account');
  t.same(scopes('127.0.1.4'), ['account'], 'and so is the botnet');
  t.equal(audit.filter((e) => e.reason === 'password').length, 5, 'every sign-in is audited');
  t.notOk(JSON.stringify(audit).includes(password), 'never the password');
});

t.test('one address guessing many accounts waits; members who signed in from there do not', async (t) => {
  const { a, b, clock, records } = await twoApis(t);
  const shared = '127.0.0.20';
  const { member, password } = await createTestMember(records, { role: 'member' });
  t.equal(
    (await postLogin(a, shared, member.email, password)).status,
    200,
    'a member signs in at the shared address',
  );

  const statuses: number[] = [];
  for (let i = 0; i < 21; i++)
    statuses.push((await postLogin(i % 2 ? a : b, shared, `guess-${i}@coop.example`, 'guess-guess')).status);
  t.same(statuses, Array(21).fill(401), 'twenty failures are free for an address, the 21st sets a wait');
  const held = await postLogin(a, shared, 'guess-x@coop.example', 'guess-guess');
  t.equal(held.status, 429);
  t.match(held.message, /from this address/);

  const { member: newcomer, password: newcomerPassword } = await createTestMember(records, {
    role: 'member',
  });
  t.equal(
    (await postLogin(b, shared, newcomer.email, newcomerPassword)).status,
    429,
    'a first sign-in from that address waits too',
  );
  t.equal((await postLogin(b, shared, member.email, password)).status, 200, 'a member proven there does not');
  t.equal(
    (await postLogin(a, '127.0.0.21', newcomer.email, newcomerPassword)).status,
    200,
    'other addresses do not',
  );

  clock.now += (held.retryAfter as number) * 1000;
  t.equal(
    (await postLogin(a, shared, newcomer.email, newcomerPassword)).status,
    200,
    'after Retry-After the newcomer gets in there too',
  );
});

t.test('parallel guesses cannot slip through while the first are being checked', async (t) => {
  const { a, b, records } = await twoApis(t);
  const { member } = await createTestMember(records, { role: 'member' });
  const answers = await Promise.all(
    Array.from({ length: 24 }, (_, i) => postLogin(i % 2 ? a : b, '127.0.0.40', member.email, `guess-${i}`)),
  );
  t.equal(answers.filter((x) => x.status === 401).length, 4, 'three free and the one that sets the wait');
  t.equal(answers.filter((x) => x.status === 429).length, 20, 'the rest are held back unchecked');
});
