import type { APIRequestContext, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import type { EnergyDays } from '../../api/facility-history.ts';
import type { FacilityOverview, FacilitySpace } from '../../api/facility-overview.ts';
import { isQuantity, QUANTITIES, type QuantityDescription } from '../../building/quantities.ts';
import { newPage, openBrowser, saveScreenshot, signedInPage, VIEWPORTS } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';

/**
 * The facility view on the whole running system with the simulated building: who gets in, the floors and
 * spaces with the values the API gives, the energy total as the sum of the main meters, the three history
 * charts drawn with data, and a reading that changes a tile without a reload.
 */

const de = new Intl.NumberFormat('de-DE', { maximumFractionDigits: 0 });
const de1 = new Intl.NumberFormat('de-DE', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** "1.234,5 W" -> 1234.5 */
function parseGerman(text: string): number {
  const m = /-?[\d.]+(,\d+)?/.exec(text.replace(/\s/g, ' '));
  if (!m) return Number.NaN;
  return Number(m[0].replace(/\./g, '').replace(',', '.'));
}

async function overviewOf(request: APIRequestContext, httpUrl: string): Promise<FacilityOverview> {
  const response = await request.get(`${httpUrl}/api/facility/overview`);
  if (response.status() !== 200) throw new Error(`overview: ${response.status()}`);
  return (await response.json()) as FacilityOverview;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 500,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** What a tile must say for a space, in the page's German. */
function expectedTileTexts(space: FacilitySpace): string[] {
  const out: string[] = [];
  const { co2, temperature, humidity } = space.readings;
  if (space.occupied) out.push(space.occupied.value ? 'belegt' : 'frei');
  if (co2) out.push(`${de.format(Number(co2.value))} ppm`);
  if (temperature) out.push(`${de1.format(Number(temperature.value))} °C`);
  if (humidity) out.push(`${de.format(Number(humidity.value))} %`);
  // Any other quantity: its German name, and its value as its description says (a state's word).
  for (const quantity of space.measures) {
    const reading = space.readings[quantity];
    if (
      !reading ||
      !isQuantity(quantity) ||
      ['occupancy', 'co2', 'temperature', 'humidity'].includes(quantity)
    )
      continue;
    const described: QuantityDescription = QUANTITIES[quantity];
    out.push(described.label.de);
    out.push(
      typeof reading.value === 'string'
        ? (described.stateLabels?.[reading.value]?.de ?? `no word for ${reading.value}`)
        : `${new Intl.NumberFormat('de-DE', { minimumFractionDigits: described.decimals, maximumFractionDigits: described.decimals }).format(reading.value)} ${described.unit}`,
    );
  }
  return out;
}

/** The text of one quantity's value on a tile. */
async function shownValue(page: Page, space: string, quantity: string): Promise<string> {
  const text = await page
    .locator(`article[data-space="${space}"] [data-quantity="${quantity}"] dd`)
    .textContent();
  return (text ?? '').trim();
}

/** Every tile's text at one instant: id -> innerText. */
async function tileTexts(page: Page): Promise<Map<string, string>> {
  const pairs = (await page.evaluate(
    `[...document.querySelectorAll('article[data-space]')].map((e) => [e.dataset.space, e.innerText])`,
  )) as [string, string][];
  return new Map(pairs);
}

/** How many pixels of a chart's canvas are not transparent. */
async function paintedPixels(page: Page, chart: string): Promise<number> {
  return Number(
    await page.evaluate(`(() => {
      const canvas = document.querySelector('${chart} canvas');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })()`),
  );
}

/**
 * Spaces that get a tile: those with sensors or something to switch, except desks shown as dots in their
 * area on the same floor.
 */
function tiledSpaces(overview: FacilityOverview): FacilitySpace[] {
  return overview.floors.flatMap((floor) => {
    const here = new Set(floor.spaces.map((s) => s.id));
    return floor.spaces.filter(
      (s) =>
        (s.measures.length > 0 || s.controls.length > 0) &&
        !(s.kind === 'desk' && s.parent !== null && here.has(s.parent)),
    );
  });
}

t.test('the facility view in real Chromium on the simulated building', async (t: Test) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ env: { SIM_SPEED: '60' } });
  t.teardown(() => system.stop());
  const { httpUrl } = system;

  // Signed out: off to the member page, which signs in and comes back.
  {
    const { page } = await newPage(browser, VIEWPORTS.desktop);
    await page.goto(`${httpUrl}/facility`);
    await page.waitForURL((url) => url.pathname === '/' && url.searchParams.get('next') === '/facility');
    t.pass('a visitor who is not signed in is sent to /?next=/facility');
    await saveScreenshot(page, 'facility-signed-out');
    await page.context().close();
  }

  // Signed in without the role: a clear refusal, no building data.
  for (const role of ['member', 'board'] as const) {
    const { page, errors } = await signedInPage(browser, system.httpUrl, system.person(role));
    await page.goto(`${httpUrl}/facility`);
    const alert = page.getByRole('alert').filter({ hasText: 'Kein Zugriff' });
    await alert.waitFor();
    t.match(await alert.textContent(), /Facility-Management/, `${role}: says who may see it`);
    t.equal(await page.locator('article[data-space]').count(), 0, `${role}: no spaces shown`);
    t.same(
      errors.filter((e) => !e.includes('403')),
      [],
      `${role}: no page errors besides the refused request`,
    );
    await saveScreenshot(page, `facility-refused-${role}`);
    await page.context().close();
  }

  const { page, errors } = await signedInPage(browser, system.httpUrl, system.person('facility'));
  // Wait until the building has spoken: today's energy from two counter readings, air everywhere, and the
  // history the charts read is in the store.
  await until('the simulated building to report', async () => {
    const o = await overviewOf(page.request, httpUrl);
    const spaces = o.floors.flatMap((f) => f.spaces);
    const co2Missing = spaces.filter((s) => s.measures.includes('co2') && !s.readings.co2).length;
    const days = (await (
      await page.request.get(`${httpUrl}/api/facility/energy-days?days=30`)
    ).json()) as EnergyDays;
    const today = days.days.at(-1)?.kwh ?? null;
    return o.energy.total.todayKwh !== null && o.energy.total.todayKwh > 0 && co2Missing === 0 && today
      ? true
      : undefined;
  });

  await page.goto(`${httpUrl}/facility`);
  await page.getByRole('heading', { name: 'Haustechnik', level: 1 }).waitFor();
  await page.locator('article[data-space]').first().waitFor();
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();

  // Floors and spaces: what the API says, tile by tile (a tile that moved on since is read again).
  let overview = await overviewOf(page.request, httpUrl);
  for (const floor of overview.floors) {
    t.ok(
      await page.getByRole('heading', { name: floor.name, level: 3 }).isVisible(),
      `floor ${floor.name} shown`,
    );
  }
  const tiled = tiledSpaces(overview);
  t.equal(await page.locator('article[data-space]').count(), tiled.length, 'one tile per sensed space');
  let pending = tiled.map((s) => s.id);
  for (let attempt = 0; attempt < 15 && pending.length > 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 300));
    overview = await overviewOf(page.request, httpUrl);
    const texts = await tileTexts(page);
    const byId = new Map(overview.floors.flatMap((f) => f.spaces.map((s) => [s.id, s])));
    pending = pending.filter((id) => {
      const space = byId.get(id);
      const text = texts.get(id) ?? '';
      return !space || !text.includes(space.name) || !expectedTileTexts(space).every((e) => text.includes(e));
    });
  }
  if (pending.length > 0) {
    const texts = await tileTexts(page);
    const byId = new Map(overview.floors.flatMap((f) => f.spaces.map((s) => [s.id, s])));
    t.comment(
      pending.map((id) => `${id}: page ${JSON.stringify(texts.get(id))} api ${JSON.stringify(byId.get(id))}`),
    );
  }
  t.same(
    pending,
    [],
    'every tile shows the name, occupancy, CO2, temperature and humidity the API gives, and whatever else its sensors measure',
  );
  // The page was written for none of these: they show from their descriptions.
  for (const quantity of ['illuminance', 'lock', 'door']) {
    t.ok(
      tiled.some((s) => s.readings[quantity] !== undefined),
      `${quantity}: reported in some space, so the check above covered it`,
    );
  }

  // The two families added as a folder each: the Diskursraum's door contact, and a Shelly H&T in the
  // technical room that reports and goes back to sleep (its last will says offline at once).
  const spaceById = new Map(overview.floors.flatMap((f) => f.spaces.map((s) => [s.id, s])));
  const technik = spaceById.get('eg-technik');
  t.same(
    technik?.measures,
    ['temperature', 'humidity'],
    'the H&T measures its room; the main meter there does not',
  );
  t.same(
    [technik?.readings.temperature?.stale, technik?.readings.humidity?.stale],
    [false, false],
    'temperature and humidity from its last wake-up, current',
  );
  t.match(
    (await tileTexts(page)).get('eg-technik'),
    /Temperatur\s*\d+,\d °C\s*Luftfeuchte\s*\d+ %/,
    'on its tile, with the unit and decimals of their descriptions',
  );
  const sleeper = overview.devices.list.find((d) => d.id === 'eg-technik-ht');
  t.same(
    [sleeper?.online, sleeper?.silent],
    [true, false],
    'asleep since its report, yet online, not silent',
  );
  t.equal(
    (await page.locator('details tr[data-device="eg-technik-ht"] td.status').textContent())?.trim(),
    'online, schläft zwischen Meldungen',
    'the device list says why it was last heard hours ago',
  );
  t.ok(
    ['open', 'closed'].includes(String(spaceById.get('eg-diskursraum')?.readings.door?.value)),
    "the Diskursraum's door contact reports its door",
  );
  const desks = overview.floors
    .flatMap((f) => f.spaces)
    .filter((s) => s.kind === 'desk' && s.parent !== null);
  const firstDesk = desks[0];
  if (firstDesk) {
    t.ok(
      await page.getByRole('listitem', { name: new RegExp(`^${firstDesk.name}: `) }).count(),
      'desks appear as dots named in their area',
    );
  }

  // Energy: the building total is the sum of the main meters on the page.
  const shown = (await page.evaluate(`(() => {
    const cells = (row) => [row.querySelector('td.power').innerText, row.querySelector('td.today').innerText];
    return {
      mains: [...document.querySelectorAll('table.meters tbody tr[data-role="main"]')].map((r) => [r.dataset.meter, ...cells(r)]),
      total: cells(document.querySelector('table.meters tfoot tr')),
    };
  })()`)) as { mains: [string, string, string][]; total: [string, string] };
  t.same(
    shown.mains.map((m) => m[0]).sort(),
    [...overview.energy.total.meters].sort(),
    'the main meters of the site file are the ones summed',
  );
  t.ok(shown.mains.length >= 2, 'the Kaufhaus has several main meters');
  const sumPower = shown.mains.reduce((sum, m) => sum + parseGerman(m[1]), 0);
  const sumToday = shown.mains.reduce((sum, m) => sum + parseGerman(m[2]), 0);
  // Each shown figure is rounded (W to 1, kWh to 0.01): the sum of rounded figures may differ by that much.
  t.ok(
    Math.abs(parseGerman(shown.total[0]) - sumPower) <= 0.5 * (shown.mains.length + 1),
    `power total ${shown.total[0]} = sum of the main meters ${sumPower}`,
  );
  t.ok(
    Math.abs(parseGerman(shown.total[1]) - sumToday) <= 0.005 * (shown.mains.length + 1),
    `today's total ${shown.total[1]} = sum of the main meters ${sumToday}`,
  );
  t.ok(parseGerman(shown.total[1]) > 0, 'energy since midnight is counted');

  // The Pro 4PM in the 2nd floor's sub-distribution: a row per output, named after the Protel room it feeds.
  const outputs = await until('the Pro 4PM outputs on the page', async () => {
    const rows = (await page.evaluate(
      `[...document.querySelectorAll('table.meters tr.channel[data-meter="og2-protel-steckdosen"]')].map((r) => r.querySelector('.where').innerText)`,
    )) as string[];
    return rows.length === 4 ? rows : undefined;
  });
  t.same(outputs, ['Protel 201', 'Protel 202', 'Protel 203', 'Protel 204'], 'each output in its room');

  // Device health and the quarantine count.
  const health = page.getByRole('region', { name: 'Gerätezustand' });
  t.match(await health.textContent(), /online/);
  t.match(await health.locator('.quarantine').textContent(), /\d+\s*Quarantäne/);

  // The three charts: drawn, with data points, and the same points as a table.
  for (const chart of ['.co2-chart', '.energy-chart', '.occupancy-chart']) {
    const figure = page.locator(`${chart} figure`);
    await until(
      `${chart} to have data`,
      async () => (Number(await figure.getAttribute('data-points')) > 0 ? true : undefined),
      30_000,
    );
    const points = Number(await figure.getAttribute('data-points'));
    t.equal(
      await figure.locator('tbody tr').count(),
      points,
      `${chart}: ${points} points, each in the table`,
    );
    const painted = await paintedPixels(page, chart);
    t.ok(painted > 500, `${chart}: the canvas is drawn (${painted} pixels)`);
  }
  await saveScreenshot(page, 'facility-desktop');
  t.same(errors, [], 'no errors in the page');

  // Live: with the overview cut off, a new reading still reaches the tile, and the page is not reloaded.
  const room =
    tiled.find((s) => s.measures.includes('co2') && s.kind === 'meeting_room') ??
    tiled.find((s) => s.measures.includes('co2'));
  if (!room) throw new Error('no room with a CO2 sensor');
  await page.route('**/api/facility/overview', (route) => route.abort());
  await page.evaluate('window.__sameDocument = true');
  const tile = page.locator(`article[data-space="${room.id}"]`);
  t.notMatch(await tile.textContent(), /schlecht/, 'the room starts out not poor');
  system.simulation?.stage(room.id, { co2Ppm: 2600 });
  await tile.getByText('schlecht').waitFor({ timeout: 20_000 });
  const ppm = parseGerman(((await tile.locator('.reading').textContent()) ?? '').replace('ppm', ''));
  t.ok(ppm >= 2590 && ppm <= 2610, `the tile shows the new reading (${ppm} ppm)`);
  t.equal(await page.evaluate('window.__sameDocument === true'), true, 'without a reload');
  await saveScreenshot(page, 'facility-live-co2');

  // Live, a quantity the page has no code of its own for: the facility manager opens a Protel room's lock; the
  // simulated Nuki reports unlocked, its door sensor sees the door open and closed again.
  const locked = tiled.find(
    (s) => s.readings.lock?.value === 'locked' && s.readings.door?.value === 'closed',
  );
  if (!locked) throw new Error('no room with a locked Nuki and its door closed');
  t.equal(await shownValue(page, locked.id, 'lock'), 'verriegelt', 'the lock as its description words it');
  t.equal(await shownValue(page, locked.id, 'door'), 'geschlossen');
  const doorSeen: string[] = [];
  const unlocked = page.request.post(`${httpUrl}/api/spaces/${locked.id}/unlock`);
  await until(
    'the lock and door on the tile',
    async () => {
      const shown = await shownValue(page, locked.id, 'door');
      if (doorSeen.at(-1) !== shown) doorSeen.push(shown);
      return doorSeen.includes('offen') && shown === 'geschlossen' ? true : undefined;
    },
    20_000,
    50,
  );
  t.equal(((await (await unlocked).json()) as { result: string }).result, 'unlocked');
  t.same(doorSeen, ['geschlossen', 'offen', 'geschlossen'], 'the door opened and closed, live');
  t.equal(await shownValue(page, locked.id, 'lock'), 'entriegelt', 'unlocked, until it locks itself again');
  t.equal(await page.evaluate('window.__sameDocument === true'), true, 'without a reload');

  // Live, the new families: people arriving in the Diskursraum open its door (the contact reports open,
  // then closed at its next look); people in the technical room wake the H&T with a warmer room.
  const door = () => shownValue(page, 'eg-diskursraum', 'door');
  await until('the Diskursraum door closed', async () =>
    (await door()) === 'geschlossen' ? true : undefined,
  );
  const doorWords: string[] = [];
  system.simulation?.stage('eg-diskursraum', { people: 150 });
  await until(
    'the Diskursraum door open and closed again',
    async () => {
      const shown = await door();
      if (doorWords.at(-1) !== shown) doorWords.push(shown);
      return doorWords.includes('offen') && shown === 'geschlossen' ? true : undefined;
    },
    20_000,
    50,
  );
  // People come and go there on their own as well: the door may have opened once already.
  t.same(
    doorWords.slice(-2),
    ['offen', 'geschlossen'],
    `the door contact: open, then closed, live (${doorWords})`,
  );
  t.ok(
    doorWords.every((w) => w === 'offen' || w === 'geschlossen'),
    'in the words of the door states',
  );
  const warmth = async () => parseGerman(await shownValue(page, 'eg-technik', 'temperature'));
  const before = await warmth();
  system.simulation?.stage('eg-technik', { people: 6 });
  const after = await until(
    'the H&T to wake with the warmer room',
    async () => {
      const now = await warmth();
      return now > before + 0.5 ? now : undefined;
    },
    20_000,
  );
  t.ok(after > before, `the H&T woke and reported ${after} °C (was ${before} °C), live`);
  t.equal(await page.evaluate('window.__sameDocument === true'), true, 'without a reload');
  system.simulation?.stage('eg-diskursraum', { people: null });
  system.simulation?.stage('eg-technik', { people: null });
  await page.unroute('**/api/facility/overview');
  system.simulation?.stage(room.id, { co2Ppm: null });

  // English, and a tablet.
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { name: 'Facility management', level: 1 }).waitFor();
  t.ok(await page.getByRole('heading', { name: 'Energy', level: 2 }).isVisible(), 'English texts');
  await page.setViewportSize({ width: 820, height: 1180 });
  for (const chart of ['.co2-chart', '.energy-chart', '.occupancy-chart']) {
    // Chart.js redraws after its ResizeObserver fires.
    await until(
      `${chart} redrawn for the tablet`,
      async () => ((await paintedPixels(page, chart)) > 500 ? true : undefined),
      10_000,
    );
  }
  t.pass('the charts are redrawn at tablet width');
  await saveScreenshot(page, 'facility-tablet-en');
  const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
  t.equal(overflow, false, 'nothing runs off a tablet screen sideways');
});
