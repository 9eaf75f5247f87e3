import t from 'tap';
import { hashPassword } from '../site/credentials.ts';
import { DESK2_PASSWORD, testSecrets, testSite } from '../test-support/broker.ts';
import { loadAccounts } from './accounts.ts';

t.test('one account per device and per service, verified against hashes only', async (t) => {
  const site = testSite(await hashPassword(DESK2_PASSWORD));
  const accounts = loadAccounts(site, testSecrets);
  t.same(accounts.usernames().sort(), [
    'desk-1-occupancy',
    'lock-101',
    'sensor-desk-2',
    'wesprint-api',
    'wesprint-gateway',
  ]);
  t.same(accounts.get('lock-101')?.role, { kind: 'device', deviceId: 'lock-101' });
  t.same(accounts.get('wesprint-gateway')?.role, { kind: 'service', service: 'gateway' });
  t.notMatch(JSON.stringify(accounts.get('lock-101')), /lock-secret/, 'no plaintext held');

  t.equal((await accounts.verify('lock-101', 'lock-secret'))?.username, 'lock-101');
  t.equal(await accounts.verify('lock-101', 'desk-1-secret'), undefined, "another device's password");
  t.equal(await accounts.verify('lock-101', ''), undefined);
  t.equal(await accounts.verify('nobody', 'lock-secret'), undefined);
  t.equal((await accounts.verify('wesprint-api', Buffer.from('api-secret')))?.username, 'wesprint-api');

  t.equal(
    (await accounts.verify('sensor-desk-2', DESK2_PASSWORD))?.username,
    'sensor-desk-2',
    'pinned scrypt hash',
  );
  t.equal(await accounts.verify('sensor-desk-2', 'wrong'), undefined);
  const before = accounts.hashChecks;
  t.ok(await accounts.verify('sensor-desk-2', DESK2_PASSWORD));
  t.ok(await accounts.verify('sensor-desk-2', Buffer.from(DESK2_PASSWORD)));
  t.equal(accounts.hashChecks, before, 'a reconnect with a verified password costs no scrypt');
  t.equal(await accounts.verify('sensor-desk-2', 'wrong'), undefined, 'failures are never cached as success');
});

t.test('a missing secret, a foreign hash or a name used twice is a clear error', async (t) => {
  const site = testSite(await hashPassword(DESK2_PASSWORD));
  t.throws(
    () => loadAccounts(site, { ...testSecrets, devices: { 'lock-101': 'x' } }),
    /desk-1-occupancy" has neither a password_hash/,
  );
  const foreign = testSite('sha256$AAAA$AAAA');
  t.throws(() => loadAccounts(foreign, testSecrets), /must be a scrypt hash/);
  const clash = testSite(await hashPassword(DESK2_PASSWORD));
  clash.devices[0] = { ...(clash.devices[0] as (typeof clash.devices)[0]), username: 'wesprint-gateway' };
  t.throws(() => loadAccounts(clash, testSecrets), /"wesprint-gateway" is used by two accounts/);
});
