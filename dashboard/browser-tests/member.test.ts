import t from 'tap';
import { newPage, openBrowser, saveScreenshot, signInOnPage, VIEWPORTS } from '../../test-support/browser.ts';
import { type RunningSystem, startRunningSystem } from '../../test-support/running-system.ts';

/**
 * The member view on a phone, against the whole running system with the simulated building: what a
 * coworker does at the door, through the page as they see it.
 */

/** Nuki lock states (Nuki MQTT API): 1 locked, 3 unlocked. */
const NUKI_LOCKED = 1;
const NUKI_UNLOCKED = 3;
/** The browser logs every non-2xx fetch; refusals (401 before sign-in, 403, 409, 504) are answers the page shows. */
const expectedRefusal = /Failed to load resource: the server responded with a status of (401|403|409|504)/;

/** A failure guard for things that happen within a second or two; never an expectation of speed. */
const GUARD_MS = 15_000;

async function waitFor(what: string, condition: () => boolean, timeoutMs = GUARD_MS): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A Protel room (open day and night, so the test books "now" at any hour) with its simulated lock. */
function lockedRoom(system: RunningSystem, spaceId: string) {
  const space = system.site.spaces.find((s) => s.id === spaceId);
  if (!space?.lock) throw new Error(`${spaceId} has no lock in the site file`);
  const lock = system.simulation?.locks.get(space.lock);
  if (!lock) throw new Error(`no simulated lock ${space.lock}`);
  return { space, lock };
}

/** Books through the API as another member (a second phone), for the "someone else's room" case. */
async function bookAs(system: RunningSystem, email: string, password: string, spaceId: string) {
  const login = await fetch(`${system.httpUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const { token } = (await login.json()) as { token: string };
  const quarter = 15 * 60_000;
  const start = Math.floor(Date.now() / quarter) * quarter;
  const response = await fetch(`${system.httpUrl}/api/bookings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      spaceId,
      start: new Date(start).toISOString(),
      end: new Date(start + 4 * 3_600_000).toISOString(),
    }),
  });
  if (response.status !== 201)
    throw new Error(`booking as ${email}: ${response.status} ${await response.text()}`);
}

t.test(
  'member on a phone: sign in, book a Protel room, open its door, be refused elsewhere, cancel',
  async (t) => {
    const browser = await openBrowser(t);
    if (!browser) return;
    const system = await startRunningSystem({ simulation: true });
    t.teardown(() => system.stop());
    const ada = system.person('member');
    const ben = system.demo.filter((d) => d.role === 'member')[1];
    if (!ben) throw new Error('a second demo member is needed');
    const mine = lockedRoom(system, 'og2-protel-05');
    const unbooked = lockedRoom(system, 'og2-protel-06');
    const bens = lockedRoom(system, 'og2-protel-07');

    const { page, errors } = await newPage(browser, VIEWPORTS.phone);
    await page.goto(`${system.httpUrl}/`);
    await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
    await saveScreenshot(page, 'member-sign-in');

    await t.test('a wrong password is said plainly', async (t) => {
      await signInOnPage(page, { email: ada.email, password: `${ada.password}-wrong` });
      const alert = page.locator('#sign-in-problem');
      await alert.getByText('E-Mail oder Passwort ist falsch.').waitFor();
      t.pass('wrong password shown');
    });

    await signInOnPage(page, ada);
    await page.getByRole('heading', { name: 'Meine Buchungen' }).waitFor();
    await page.getByText('Keine Buchungen').waitFor();
    t.equal(
      await page.evaluate('document.activeElement?.tagName'),
      'H1',
      'focus moves to the page, not lost',
    );
    t.equal(
      await page.getByRole('link', { name: 'Gebäude-Übersicht' }).count(),
      0,
      'no facility link for a member',
    );

    await t.test('book the Protel room from now', async (t) => {
      await page.getByText('Protel-Zimmer', { exact: true }).click();
      await page.getByLabel('Platz oder Raum').selectOption(mine.space.id);
      await page.locator('.slot.free').first().waitFor();
      const from = await page.getByLabel('Von').inputValue();
      const until = await page.getByLabel('Bis').inputValue();
      t.ok(Number(until) > Number(from), 'a start and a later end are offered');
      await page.getByRole('button', { name: 'Buchen', exact: true }).click();
      await page.getByText(`Gebucht: ${mine.space.name}`).waitFor();
      const today = page.getByRole('list', { name: 'Heute' });
      await today.getByText(mine.space.name, { exact: true }).waitFor();
      await page.locator('.slot.busy.mine').first().waitFor();
      t.pass('booked, listed under today and shown as mine in the free times');
      await saveScreenshot(page, 'member-bookings');
    });

    await t.test('the calendar app subscribes by a secret link, without a cookie', async (t) => {
      const calendar = page.getByRole('region', { name: 'Kalender' });
      await calendar.getByRole('button', { name: 'Abo-Link erstellen' }).click();
      const link = await calendar.getByLabel('Dein Abo-Link').inputValue();
      t.match(link, new RegExp(`^${system.httpUrl}/api/calendar/[^/]+\\.ics$`), 'a token URL on this server');
      const feed = await fetch(link);
      t.equal(feed.status, 200);
      t.match(feed.headers.get('content-type'), /text\/calendar/);
      t.match(await feed.text(), mine.space.name, 'the booking is in the feed');
    });

    await t.test('the unlock button opens the simulated lock', async (t) => {
      t.equal(mine.lock.state(), NUKI_LOCKED, 'locked before');
      const booking = page
        .getByRole('list', { name: 'Heute' })
        .getByRole('listitem')
        .filter({ hasText: mine.space.name });
      await booking.getByRole('button', { name: /Tür öffnen/ }).click();
      await booking.getByRole('status').getByText(`Geöffnet – ${mine.space.name} ist offen.`).waitFor();
      await waitFor('the lock reports unlocked', () => mine.lock.state() === NUKI_UNLOCKED);
      t.equal(mine.lock.state(), NUKI_UNLOCKED, 'the Nuki is unlocked (3)');
      await saveScreenshot(page, 'member-unlock-opened');
    });

    await t.test('a door without a booking stays shut and says why', async (t) => {
      const before = unbooked.lock.commandsReceived();
      const door = page.getByRole('region', { name: 'Eine Tür öffnen' });
      await door.getByLabel('Tür').selectOption(unbooked.space.id);
      await door.getByRole('button', { name: /Tür öffnen/ }).click();
      await door.getByRole('status').getByText('Abgelehnt: Du hast für diesen Raum keine Buchung.').waitFor();
      t.equal(unbooked.lock.commandsReceived(), before, 'no command reached the lock');
      t.equal(unbooked.lock.state(), NUKI_LOCKED, 'still locked');
      await saveScreenshot(page, 'member-unlock-refused');
    });

    await t.test("someone else's room, from the door's link, is refused with that reason", async (t) => {
      await bookAs(system, ben.email, ben.password, bens.space.id);
      await page.goto(`${system.httpUrl}/?door=${bens.space.id}`);
      const door = page.getByRole('region', { name: 'Eine Tür öffnen' });
      t.equal(await door.getByLabel('Tür').inputValue(), bens.space.id, 'the door from the link is chosen');
      await door.getByRole('button', { name: /Tür öffnen/ }).click();
      await door.getByText('Abgelehnt: Der Raum ist gerade von jemand anderem gebucht.').waitFor();
      t.equal(bens.lock.state(), NUKI_LOCKED, "Ben's room stays locked");
    });

    await t.test('a room taken while the member was choosing: the 409 is said with the time', async (t) => {
      const raced = lockedRoom(system, 'og2-protel-08');
      const form = page.getByRole('region', { name: 'Buchen', exact: true });
      await form.getByText('Protel-Zimmer', { exact: true }).click();
      await form.getByLabel('Platz oder Raum').selectOption(raced.space.id);
      await form.locator('.slot.free').first().waitFor();
      await bookAs(system, ben.email, ben.password, raced.space.id);
      await form.getByRole('button', { name: 'Buchen', exact: true }).click();
      await form.getByRole('alert').getByText('Schon belegt (').waitFor();
      await form.locator('.slot.busy:not(.mine)').first().waitFor();
      t.pass('refused with the time in the way, and the free times are fresh');
      await saveScreenshot(page, 'member-book-conflict');
    });

    await t.test('a lock that does not answer: the button waits, then says so', async (t) => {
      await mine.lock.setMode('unresponsive');
      t.teardown(() => mine.lock.setMode('normal'));
      const booking = page
        .getByRole('list', { name: 'Heute' })
        .getByRole('listitem')
        .filter({ hasText: mine.space.name });
      const button = booking.getByRole('button', { name: /Tür öffnen|Öffne/ });
      await button.click();
      t.ok(await button.isDisabled(), 'disabled while waiting for the lock');
      await booking.getByText('Das Schloss hat nicht bestätigt').waitFor({ timeout: GUARD_MS });
      t.notOk(await button.isDisabled(), 'enabled again with the answer');
      await mine.lock.setMode('normal');
    });

    await t.test('cancel the booking after confirming', async (t) => {
      const booking = page
        .getByRole('list', { name: 'Heute' })
        .getByRole('listitem')
        .filter({ hasText: mine.space.name });
      await booking.getByRole('button', { name: /stornieren/ }).click();
      await booking.getByText('wirklich stornieren?').waitFor();
      await booking.getByRole('button', { name: 'Ja, stornieren' }).click();
      await page.getByText(`Buchung ${mine.space.name} storniert.`).waitFor();
      await page.getByText('Keine Buchungen').waitFor();
      const listed = (await page.evaluate(
        "fetch('/api/bookings?mine=1').then((r) => r.json()).then((b) => b.bookings.map((x) => x.status))",
      )) as string[];
      t.same(listed, ['cancelled'], 'the API has it cancelled');
    });

    t.same(
      errors.filter((e) => !expectedRefusal.test(e)),
      [],
      'no errors in the page but the refusals it shows',
    );
  },
);

t.test('installable app: manifest, service worker for the shell only, offline start', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ simulation: false });
  t.teardown(() => system.stop());

  const manifestResponse = await fetch(`${system.httpUrl}/manifest.webmanifest`);
  t.equal(manifestResponse.status, 200);
  const manifest = JSON.parse(await manifestResponse.text()) as {
    start_url: string;
    display: string;
    name: string;
    short_name: string;
    icons: { src: string; sizes: string; purpose: string; type: string }[];
  };
  t.equal(manifest.start_url, '/');
  t.equal(manifest.display, 'standalone');
  t.ok(manifest.name && manifest.short_name, 'named');
  t.ok(
    manifest.icons.some((i) => i.src === '/icon.svg' && i.sizes === 'any' && i.purpose === 'any'),
    'the icon for any purpose',
  );
  for (const icon of manifest.icons) {
    const response = await fetch(new URL(icon.src, system.httpUrl));
    t.equal(response.status, 200, `${icon.src} is served`);
    t.match(response.headers.get('content-type'), /image\/svg\+xml/);
  }

  const { page, errors } = await newPage(browser, VIEWPORTS.phone);
  await page.goto(`${system.httpUrl}/`);
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  t.ok(
    await page.evaluate('navigator.serviceWorker.ready.then((r) => r.active !== null)'),
    'the worker is active',
  );
  await page.reload();
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  t.ok(await page.evaluate('navigator.serviceWorker.controller !== null'), 'the worker controls the page');

  const cdp = await page.context().newCDPSession(page);
  const installability = (await cdp.send('Page.getInstallabilityErrors')) as {
    installabilityErrors: { errorId: string }[];
  };
  // Test contexts are incognito by construction; a phone's browser profile is not.
  t.same(
    installability.installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito'),
    [],
    'Chromium finds nothing against installing it',
  );

  // Signed in, the page reads personal data from the API; none of it may land in the cache.
  const member = system.admin;
  await signInOnPage(page, member);
  await page.getByRole('heading', { name: 'Meine Buchungen' }).waitFor();
  const cached = (await page.evaluate(
    'caches.keys().then((names) => Promise.all(names.map((n) => caches.open(n).then((c) => c.keys())))).then((all) => all.flat().map((r) => new URL(r.url).pathname))',
  )) as string[];
  t.ok(cached.includes('/'), 'the page itself is cached');
  t.ok(
    cached.some((p) => p.startsWith('/assets/')),
    'its assets are cached',
  );
  t.same(
    cached.filter((p) => !(p === '/' || p.startsWith('/assets/'))),
    [],
    `nothing but the shell is cached (${cached.join(', ')})`,
  );

  await page.context().setOffline(true);
  await page.reload();
  await page.getByText('Keine Verbindung', { exact: false }).first().waitFor();
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  t.pass('the page starts offline from the cached shell and says it has no connection');
  await saveScreenshot(page, 'member-offline');
  await page.context().setOffline(false);
  t.same(
    errors.filter((e) => !expectedRefusal.test(e) && !/ERR_INTERNET_DISCONNECTED/.test(e)),
    [],
    'no errors in the page but the expected offline failures',
  );
});

t.test('after sign-in the page goes on to ?next, but only to our own pages', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ simulation: true });
  t.teardown(() => system.stop());
  const facility = system.person('facility');

  const { page } = await newPage(browser, VIEWPORTS.phone);
  await page.goto(`${system.httpUrl}/?next=/facility`);
  await page.getByText('Nach der Anmeldung geht es weiter zu /facility.').waitFor();
  await signInOnPage(page, facility);
  await page.waitForURL(`${system.httpUrl}/facility`);
  t.pass('went on to /facility');

  const other = await newPage(browser, VIEWPORTS.phone);
  await other.page.goto(`${system.httpUrl}/?next=${encodeURIComponent('//evil.example/phish')}`);
  t.equal(
    await other.page.getByText('Nach der Anmeldung').count(),
    0,
    'a foreign target is not even mentioned',
  );
  await signInOnPage(other.page, facility);
  await other.page.getByRole('heading', { name: 'Meine Buchungen' }).waitFor();
  t.equal(new URL(other.page.url()).origin, system.httpUrl, 'still on our origin');
  t.equal(new URL(other.page.url()).pathname, '/', 'stayed on the member page');
  await other.page.getByRole('link', { name: 'Gebäude-Übersicht' }).waitFor();
  t.equal(
    await other.page.getByRole('link', { name: 'Bericht für den Vorstand' }).count(),
    0,
    'no board link for facility',
  );

  await t.test('wrong passwords make the next attempt wait, and the page says how long', async (t) => {
    const member = system.demo.filter((d) => d.role === 'member')[2];
    if (!member) throw new Error('a third demo member is needed');
    const { page } = await newPage(browser, VIEWPORTS.phone);
    await page.goto(`${system.httpUrl}/`);
    // Three failures are free and the fourth sets a wait of 5 s; should this machine take longer than
    // that between two attempts, the next failure sets a longer one. The answers decide, not the clock.
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 10 && statuses.at(-1) !== 429; i += 1) {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/auth/login')),
        signInOnPage(page, { email: member.email, password: 'not-the-password' }),
      ]);
      statuses.push(response.status());
      retryAfter = response.headers()['retry-after'];
      await page.getByRole('button', { name: 'Anmelden' }).waitFor();
    }
    t.same(statuses.slice(0, 4), [401, 401, 401, 401], 'four wrong passwords are checked');
    t.equal(statuses.at(-1), 429, 'then the account waits at this address');
    const problem = page.locator('#sign-in-problem');
    await problem.getByText('Zu viele Fehlversuche').waitFor();
    const text = (await problem.textContent()) ?? '';
    t.match(text, /Bitte in \d+ (s|Min\.) erneut versuchen\./, 'says how long');
    t.ok(
      text.includes(`in ${retryAfter} s`) || text.includes('Min.'),
      `the wait the API gave (Retry-After ${retryAfter})`,
    );
    t.notOk(/gesperrt/.test(text), 'no word of a locked account');
  });
});

t.test('German first, English on request, across the page', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ simulation: false });
  t.teardown(() => system.stop());

  const { page, errors } = await newPage(browser, VIEWPORTS.phone);
  await page.goto(`${system.httpUrl}/`);
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  await page.getByLabel('Passwort').waitFor();
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  t.equal(await page.getByLabel('Password').count(), 1, 'labels switch too');
  await page.getByLabel('E-mail').fill(system.admin.email);
  await page.getByLabel('Password').fill(system.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My bookings' }).waitFor();
  await page.getByRole('heading', { name: 'Open a door' }).waitFor();
  await page.getByRole('heading', { name: 'Calendar' }).waitFor();
  await page.getByRole('link', { name: 'Board report' }).waitFor();
  const text = ((await page.locator('main').textContent()) ?? '').toLowerCase();
  for (const german of ['buchung', 'tür', 'kalender', 'anmelden', 'schreibtisch', 'bitte', 'heute']) {
    t.notOk(text.includes(german), `no German "${german}" left in English`);
  }
  await saveScreenshot(page, 'member-english');
  await page.getByRole('button', { name: 'DE', exact: true }).click();
  await page.getByRole('heading', { name: 'Meine Buchungen' }).waitFor();
  t.same(
    errors.filter((e) => !expectedRefusal.test(e)),
    [],
    'no errors in the page',
  );
});
