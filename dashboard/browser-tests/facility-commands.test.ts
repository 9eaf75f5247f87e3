import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import type { FacilityOverview } from '../../api/facility-overview.ts';
import { openBrowser, saveScreenshot, signedInPage } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';

/**
 * Switching a plug's output and setting a room's temperature from the facility view, in real Chromium on the
 * whole running system: the page's buttons send POST /api/devices/:id/commands, the gateway drives the
 * simulated Pro 4PM and radiator valve in their vendors' formats, and what they confirm is what the page
 * shows, in German and in English.
 */

const PRO4PM = 'og2-protel-steckdosen';
const VALVE = 'og2-protel-01-heizung';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const control = (page: Page, space: string, device: string, channel: string, kind: string) =>
  page.locator(
    `article[data-space="${space}"] .control[data-device="${device}"][data-channel="${channel}"][data-kind="${kind}"]`,
  );

t.test(
  'the facility view switches an output and sets a radiator valve, and shows what they confirmed',
  async (t: Test) => {
    const browser = await openBrowser(t);
    if (!browser) return;
    const system = await startRunningSystem();
    t.teardown(() => system.stop());
    const { httpUrl } = system;

    const { page, errors } = await signedInPage(browser, httpUrl, system.person('facility'));
    // Until the simulated devices have spoken, their controls have no state to show.
    await until('the Pro 4PM and the valve heard', async () => {
      const overview = (await (
        await page.request.get(`${httpUrl}/api/facility/overview`)
      ).json()) as FacilityOverview;
      const online = (id: string) => overview.devices.list.find((d) => d.id === id)?.online === true;
      return online(PRO4PM) && online(VALVE) ? true : undefined;
    });
    await page.goto(`${httpUrl}/facility`);

    // Protel 203 is fed by output 2 of the Pro 4PM in the sub-distribution.
    const output2 = control(page, 'og2-protel-03', PRO4PM, '2', 'switch');
    await output2.waitFor();
    await output2.getByRole('button', { name: 'Ausschalten' }).click();
    await output2.locator('[data-result="confirmed"]').waitFor();
    t.equal((await output2.locator('[data-result]').textContent())?.trim(), 'Vom Gerät bestätigt.');
    // The shown state is the device's report, arriving on /api/live.
    await output2.locator('.state[data-state="off"]').waitFor();
    t.equal((await output2.locator('.state').textContent())?.trim(), 'aus');
    t.equal(
      await control(page, 'og2-protel-02', PRO4PM, '1', 'switch')
        .locator('.state')
        .getAttribute('data-state'),
      'on',
      'output 1 (Protel 202) stays on',
    );

    // Protel 201's radiator valve to 22.5 °C.
    const valve = control(page, 'og2-protel-01', VALVE, '0', 'setpoint');
    await valve.locator('input[type="number"]').fill('22.5');
    await valve.getByRole('button', { name: 'Setzen' }).click();
    await valve.locator('[data-result="confirmed"]').waitFor();
    await valve.locator('.state[data-state="22.5"]').waitFor();
    t.equal((await valve.locator('.state').textContent())?.trim(), '22,5 °C');
    t.equal(
      await valve.locator('input').getAttribute('max'),
      '30',
      "the input offers only the valve's range",
    );
    t.equal(await valve.locator('input').getAttribute('step'), '0.5');
    await saveScreenshot(page, 'facility-commands-de');

    // In English, switching output 2 on again.
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await output2.getByRole('button', { name: 'Switch on' }).click();
    await output2.locator('[data-result="confirmed"]').waitFor();
    t.equal((await output2.locator('[data-result]').textContent())?.trim(), 'Confirmed by the device.');
    await output2.locator('.state[data-state="on"]').waitFor();
    t.equal((await output2.locator('.state').textContent())?.trim(), 'on');
    await saveScreenshot(page, 'facility-commands-en');

    // Every command is in the audit log, with who sent it and what came back.
    const audit = await page.request.get(`${httpUrl}/api/audit?action=device_command`);
    const entries = ((await audit.json()) as { entries: { target: string; reason: string }[] }).entries;
    t.same(entries.map((e) => [e.target, e.reason]).sort(), [
      [VALVE, 'confirmed'],
      [PRO4PM, 'confirmed'],
      [PRO4PM, 'confirmed'],
    ]);
    t.same(errors, [], 'no console errors');
  },
);
