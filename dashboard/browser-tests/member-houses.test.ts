import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Identity } from '../../members/identity.ts';
import { SqliteMemberStore } from '../../members/sqlite-member-store.ts';
import { sqliteRecords } from '../../records/records.ts';
import type { SiteConfig } from '../../site/site.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import { testApi } from '../../test-support/api.ts';
import { memberPhone, openBrowser, saveScreenshot } from '../../test-support/browser.ts';
import { testRecords } from '../../test-support/members.ts';
import { NORD, openingLocks, SUED } from '../../test-support/two-sites.ts';

/**
 * Members belong to the network, on a phone (issue 11): Ada, a member of Haus Nord, chooses Haus Süd on her
 * page, books its Protel room (Süd opens desks and Protel rooms to every house), finds the booking under her
 * bookings with its house, and opens its door, which goes to Süd's lock. Bea, a member of Süd, is offered
 * only the desks of Nord (Nord opens desks to Süd). Each house has a `protel-1` with a `lock-1`. The API's and
 * the page's clocks are fixed at Monday 1 March 2027, 10:00 Berlin; the locks' channels answer at once.
 */

const NOW = Date.parse('2027-03-01T09:00:00Z');
const PASSWORD = 'member-houses-password-1';
const nord: SiteConfig = { ...NORD, guests: [{ from: ['sued'], kinds: ['desk'] }] };
const sued: SiteConfig = { ...SUED, guests: [{ from: ['*'], kinds: ['desk', 'protel'] }] };

t.test('a member of Nord books and opens a room in Süd from her phone', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-member-houses-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'network.db') });
  t.teardown(() => all.close());
  const records = testRecords(t);
  // Sessions on the process's clock, which is Chromium's too (see member-series.test.ts).
  const identity = new Identity(records, { site: { id: 'nord' } });
  const opened: string[] = [];
  const { app } = await testApi(t, {
    site: nord,
    records,
    identity,
    now: () => NOW,
    lockCommands: openingLocks('nord', opened),
    network: {
      sites: [nord, sued],
      store: all,
      lockCommands: new Map([['sued', openingLocks('sued', opened)]]),
    },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const people = new SqliteMemberStore(records);
  const ada = await people.create({
    email: 'ada@nord.example',
    name: 'Ada',
    role: 'member',
    homeSite: 'nord',
    password: PASSWORD,
  });
  await people.create({
    email: 'bea@sued.example',
    name: 'Bea',
    role: 'member',
    homeSite: 'sued',
    password: PASSWORD,
  });

  const { page, errors } = await memberPhone(
    browser,
    base,
    { email: 'ada@nord.example', password: PASSWORD },
    NOW,
  );

  const houseSelect = page.getByLabel('In welchem Haus?');
  await houseSelect.waitFor();
  t.same(
    await houseSelect.locator('option').allTextContents(),
    ['Haus Nord (dein Haus)', 'Haus Süd'],
    'her own house first, then the house that opens rooms to her',
  );
  t.equal(await page.locator('header .site').textContent(), 'Haus Nord');
  await houseSelect.selectOption('sued');
  await page.locator('header .site', { hasText: 'Haus Süd' }).waitFor();
  await page.getByText('Du bist in Haus Süd zu Gast').waitFor();

  await page.getByText('Protel-Zimmer', { exact: true }).click();
  await page.getByLabel('Platz oder Raum').selectOption('protel-1');
  await page.locator('.slot.free').first().waitFor();
  await page.getByRole('button', { name: 'Buchen', exact: true }).click();
  await page.getByText('Gebucht: Protel 1').waitFor();
  const sueds = records.prepare('SELECT site, space_id FROM bookings').all();
  t.same(sueds, [{ site: 'sued', space_id: 'protel-1' }], "booked as Süd's Protel 1");

  const booking = page.getByRole('list', { name: 'Heute' }).locator('li.booking[data-site="sued"]');
  await booking.getByText('Haus Süd', { exact: true }).waitFor();
  t.pass('listed under today with its house');
  t.equal(
    await booking.getByRole('button', { name: /verschieben/ }).count(),
    0,
    'begun now: not moved any more (member-houses-move.test.ts moves one in another house)',
  );
  await saveScreenshot(page, 'member-houses-booked');

  await booking.getByRole('button', { name: /Tür öffnen/ }).click();
  await booking.getByText('Geöffnet – Protel 1 ist offen.').waitFor();
  t.same(opened, ['sued/lock-1'], "Süd's lock opened, not Nord's");
  const audit = await sqliteRecords(records).audit.query({ action: 'unlock', actor: ada.member.id });
  t.match(
    audit.entries.map((e) => [e.decision, e.target, e.detail.site]),
    [['granted', 'protel-1', 'sued']],
    'audited with the house',
  );
  await saveScreenshot(page, 'member-houses-opened');

  // The link at Süd's door names the house and the door.
  await page.goto(`${base}/?site=sued&door=protel-1`);
  await page.locator('header .site', { hasText: 'Haus Süd' }).waitFor();
  t.equal(await houseSelect.inputValue(), 'sued', 'the link chooses the house');
  t.equal(
    await page.getByRole('region', { name: 'Eine Tür öffnen' }).getByLabel('Tür').inputValue(),
    'protel-1',
    'and its door',
  );

  // The door panel of Nord, her own house: no booking there, refused with the reason.
  await houseSelect.selectOption('nord');
  const doors = page.getByRole('region', { name: 'Eine Tür öffnen' });
  await doors.getByLabel('Tür').selectOption('protel-1');
  await doors.getByRole('button', { name: /Tür öffnen/ }).click();
  await doors.getByText('Abgelehnt: Du hast für diesen Raum keine Buchung.').waitFor();
  t.same(opened, ['sued/lock-1'], 'nothing sent to Nord');
  await page.context().close();

  // Bea of Süd, in Nord: desks only.
  const second = await memberPhone(browser, base, { email: 'bea@sued.example', password: PASSWORD }, NOW);
  const beasSelect = second.page.getByLabel('In welchem Haus?');
  await beasSelect.waitFor();
  t.same(await beasSelect.locator('option').allTextContents(), ['Haus Süd (dein Haus)', 'Haus Nord']);
  await beasSelect.selectOption('nord');
  await second.page.getByText('Du bist in Haus Nord zu Gast').waitFor();
  const kinds = second.page.getByRole('group', { name: 'Was' });
  t.same(
    (await kinds.locator('label').allTextContents()).map((k) => k.trim()),
    ['Schreibtisch'],
    'Nord offers her its desks only',
  );
  await second.page.context().close();

  const unexpected = [...errors, ...second.errors].filter((e) => !/status of (401|403)/.test(e));
  t.same(unexpected, [], 'no page errors');
});
