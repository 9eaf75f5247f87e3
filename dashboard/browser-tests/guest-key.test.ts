import t from 'tap';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { DEMO_SITE_FILE } from '../../simulations/demo-site.ts';
import { loadSite } from '../../site/load.ts';
import { callApi } from '../../test-support/api.ts';
import { memberPhone, newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { signedInMember } from '../../test-support/members.ts';
import { eventually } from '../../test-support/small-building.ts';
import { unlockBuilding } from '../../test-support/unlock-building.ts';

/**
 * A guest's key in Chromium, on the broker, the gateway and a simulated Nuki: the link's page shows the room
 * and opens nothing by being opened; a tap on the button opens the door; a revoked key's page says so. The
 * booking is around the process's now (the API's clock), so the key is open while the test runs.
 */

const site = loadSite(DEMO_SITE_FILE);
const protel = site.spaces.find((s) => s.id === 'og2-protel-01');
if (!protel?.lock) throw new Error('the demo site no longer has the room this test relies on');
const protelLock = protel.lock;

t.test('the key page: opening the link opens nothing, the tap opens the door', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const b = await unlockBuilding(t, site, [protelLock]);
  const base = await b.app.listen({ host: '127.0.0.1', port: 0 });
  const anna = await signedInMember(b.app, b.records, 'member');
  const now = Date.now();
  const booked = await new SqliteBookingStore(b.records, site.site.id).create({
    memberId: anna.member.id,
    spaceId: protel.id,
    start: now - 5 * 60_000,
    end: now + 60 * 60_000,
  });
  if (!booked.ok) throw new Error('booking refused');
  const give = async () => {
    const given = await callApi(b.app, 'POST', '/api/guest-keys', anna.cookie, {
      bookingId: booked.booking.id,
    });
    t.equal(given.status, 201, given.text);
    return given.json;
  };
  const lock = b.lock(protelLock);

  // Anna makes the key on her phone, from her booking.
  const host = await memberPhone(browser, base, { email: anna.member.email, password: anna.password });
  const label = new RegExp(`^Gastschlüssel für ${protel.name}`);
  await host.page.getByRole('button', { name: label }).click();
  const link = await host.page.getByRole('textbox', { name: label }).inputValue();
  t.match(link, new RegExp(`^${base}/key#[A-Za-z0-9_-]{32}$`));
  await saveScreenshot(host.page, 'guest-key-made');
  t.same(
    host.errors.filter((e) => !e.includes('401 (Unauthorized)')),
    [],
    'no errors on the member page (but its question who is signed in, before the sign-in)',
  );

  const { page, errors } = await newPage(browser, VIEWPORTS.phone);
  await page.goto(link);
  await page.getByText(`Dieser Schlüssel öffnet: ${protel.name}`).waitFor();
  const button = page.getByRole('button', { name: 'Tür öffnen' });
  await button.waitFor();
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal(lock.commandsReceived(), 0, 'opening the page opened nothing');
  t.equal(lock.state(), 1, 'locked');
  await saveScreenshot(page, 'guest-key');
  await button.click();
  await page.getByText('Die Tür ist offen. Willkommen!').waitFor();
  await eventually('the simulated lock unlocked', () => lock.state() === 3);
  t.equal(lock.commandsReceived(), 1, 'one tap, one command');
  t.same(errors, [], 'no errors in the page');

  // Anna takes the key back on her page; its link, in English, then opens nothing.
  await host.page.getByRole('heading', { name: 'Deine Gastschlüssel' }).waitFor();
  await host.page.getByRole('button', { name: new RegExp(`^Gastschlüssel für ${protel.name} ab `) }).click();
  await host.page.getByText('zurückgezogen').waitFor();
  await saveScreenshot(host.page, 'guest-key-revoked');
  const other = await newPage(browser, VIEWPORTS.phone);
  await other.page.goto(`${base}/key?lang=en${link.slice(`${base}/key`.length)}`);
  await other.page.getByText('This key has been revoked.').waitFor();
  t.equal(await other.page.getByRole('button', { name: 'Open the door' }).count(), 0, 'no button to tap');
  const revoked = await b.records
    .prepare(`SELECT action, reason FROM audit_log WHERE action = 'guest_key_revoke'`)
    .all();
  t.same(revoked, [{ action: 'guest_key_revoke', reason: 'host' }], 'the taking back audited, as the host');

  // A key given through the API (a script, another device) is listed too, and can be taken back there.
  await give();
  await host.page.reload();
  await host.page
    .getByRole('button', { name: new RegExp(`^Gastschlüssel für ${protel.name} ab `) })
    .waitFor();
  t.equal(lock.commandsReceived(), 1);
});
