import t from 'tap';
import { openBrowser, saveScreenshot, signedInPage } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';

/**
 * The facility manager's alert list on /facility, against the whole running system: the simulator drives a
 * meeting room's CO2 up, the alert appears live, the manager acknowledges it in the page, the air clears.
 */

/** A failure guard for things that happen within seconds; never an expectation of speed. */
const GUARD_MS = 20_000;
const ROOM = 'og3-besprechung-2';

interface AlertOut {
  id: number;
  kind: string;
  subject: string;
  value: number | null;
  clearedAt: number | null;
  acknowledged: { by: string; name: string | null; at: number } | null;
}

t.test('a CO2 alert appears live, is acknowledged in the page, and clears', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  // 2000 ppm ("hygienisch inakzeptabel") and no waiting: only the staged room crosses it, at once.
  const system = await startRunningSystem({ env: { ALERT_CO2_PPM: '2000', ALERT_CO2_MINUTES: '0' } });
  t.teardown(() => system.stop());
  const facility = system.person('facility');
  const roomName = system.site.spaces.find((s) => s.id === ROOM)?.name ?? '';
  t.ok(roomName, 'the room is in the site file');

  const { page, errors } = await signedInPage(browser, system.httpUrl, facility);
  const me = (await (await page.request.get(`${system.httpUrl}/api/me`)).json()) as {
    member: { id: string };
  };

  await page.goto(`${system.httpUrl}/facility`);
  const list = page.getByRole('region', { name: 'Meldungen' });
  await list.waitFor({ timeout: GUARD_MS });
  await list.getByText('Live', { exact: true }).waitFor({ timeout: GUARD_MS });
  const roomAlert = list
    .getByRole('listitem')
    .filter({ hasText: 'CO₂ zu hoch' })
    .filter({ hasText: roomName });
  t.equal(await roomAlert.count(), 0, 'no alert for the room before');
  await saveScreenshot(page, 'alerts-facility-before');

  // Marks this page load: if the page reloaded, the mark would be gone.
  await page.evaluate('window.__alertsTestMark = 42');
  system.simulation?.stage(ROOM, { people: 8, co2Ppm: 2400 });
  await roomAlert.waitFor({ timeout: GUARD_MS });
  // The sensor adds a few ppm of noise (±4) to the staged value.
  t.match(await roomAlert.textContent(), /2\.(39[6-9]|40[0-4]) ppm/, 'the value, in German number format');
  t.equal(await page.evaluate('window.__alertsTestMark'), 42, 'appeared without a reload');
  await saveScreenshot(page, 'alerts-facility-co2-open');

  await roomAlert.getByRole('button', { name: /bestätigen/ }).click();
  await roomAlert.getByText(`Bestätigt von ${facility.name}`).waitFor({ timeout: GUARD_MS });
  t.equal(await roomAlert.getByRole('button').count(), 0, 'no button once acknowledged');
  await saveScreenshot(page, 'alerts-facility-co2-acknowledged');

  const openAlerts = async () =>
    (
      (await (await page.request.get(`${system.httpUrl}/api/alerts?state=open`)).json()) as {
        alerts: AlertOut[];
      }
    ).alerts;
  const stored = (await openAlerts()).find((a) => a.kind === 'co2_high' && a.subject === ROOM);
  t.ok(Math.abs((stored?.value ?? 0) - 2400) <= 4, "the stored value is the sensor's");
  t.equal(stored?.acknowledged?.by, me.member.id, 'the API says who acknowledged');
  t.equal(stored?.acknowledged?.name, facility.name);

  // The room is aired: the simulated air continues from whatever was staged last (a mass balance, not a
  // switch), so withdrawing 2400 alone would leave it decaying from 2400 for simulated hours.
  system.simulation?.stage(ROOM, { people: 0, co2Ppm: 600 });
  system.simulation?.stage(ROOM, { people: null, co2Ppm: null });
  await roomAlert.getByText(/Erledigt/).waitFor({ timeout: GUARD_MS });
  t.match(await roomAlert.getAttribute('class'), /cleared/, 'greyed as resolved');
  t.notOk(
    (await openAlerts()).some((a) => a.kind === 'co2_high' && a.subject === ROOM),
    'no longer open in the API',
  );
  await saveScreenshot(page, 'alerts-facility-co2-cleared');

  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await list.page().getByRole('region', { name: 'Alerts' }).getByText('CO₂ too high').first().waitFor();
  await saveScreenshot(page, 'alerts-facility-english');
  t.same(errors, [], 'no errors in the page');
});
