import path from 'node:path';
import t from 'tap';
import { openRecords } from '../../database/database.ts';
import { Identity } from '../../members/identity.ts';
import { memberPhone, newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { type RunningSystem, startRunningSystem } from '../../test-support/running-system.ts';

/**
 * A notice on a room in real Chromium on the running system: put up as an automation does (here the facility
 * manager's session on the same route), it shows on the member view of the member who has booked the room now,
 * not on another member's, and on the room's lobby tile; taken down, it goes from both.
 */

const ROOM = 'og2-protel-05';
const TEXT = 'CO2 1400 ppm – bitte lüften · please open a window';

async function session(system: RunningSystem, email: string, password: string): Promise<string> {
  const response = await fetch(`${system.httpUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`sign-in of ${email}: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

t.test('a notice on a room: on the booker’s member view and the lobby tile, not elsewhere', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ simulation: true });
  t.teardown(() => system.stop());
  const [booker, other] = system.demo.filter((p) => p.role === 'member');
  const facility = system.person('facility');
  if (!booker || !other) throw new Error('the demo has fewer than two members');
  const api = (token: string, method: string, route: string, body?: unknown) =>
    fetch(system.httpUrl + route, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  // The booker has Protel 205 from the current quarter hour for four hours (open around the clock).
  const quarter = 15 * 60_000;
  const start = Math.floor(Date.now() / quarter) * quarter;
  const booked = await api(await session(system, booker.email, booker.password), 'POST', '/api/bookings', {
    spaceId: ROOM,
    start: new Date(start).toISOString(),
    end: new Date(start + 4 * 3_600_000).toISOString(),
  });
  t.equal(booked.status, 201, 'booked now');
  const staff = await session(system, facility.email, facility.password);
  const put = await api(staff, 'PUT', `/api/spaces/${ROOM}/notices/air`, {
    message: TEXT,
    level: 'warning',
    minutes: 30,
  });
  t.equal(put.status, 200, 'the notice is up');

  const signIn = async (email: string, password: string) => {
    const { page, errors } = await memberPhone(browser, system.httpUrl, { email, password });
    await page.getByText(/Angemeldet als/).waitFor();
    return { page, errors };
  };
  const mine = await signIn(booker.email, booker.password);
  const notice = mine.page.locator(`.space-notice[data-space="${ROOM}"]`);
  await notice.waitFor({ timeout: 15_000 });
  t.match((await notice.textContent()) ?? '', /Hinweis für Protel 205/, 'named by its room');
  t.match((await notice.textContent()) ?? '', TEXT, "with the automation's words");
  t.equal(
    await notice.getAttribute('role'),
    'status',
    'read out by a screen reader without taking the focus',
  );
  await saveScreenshot(mine.page, 'member-notice-phone');

  const theirs = await signIn(other.email, other.password);
  await theirs.page.waitForTimeout(1500);
  t.equal(
    await theirs.page.locator('.space-notice').count(),
    0,
    'a member who has not booked the room sees none',
  );

  const lobbyToken = await (async () => {
    const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
    try {
      return (await new Identity(records).lobbyTokens.create('notice test screen')).token;
    } finally {
      records.close();
    }
  })();
  const lobby = await newPage(browser, VIEWPORTS.lobbyLandscape);
  await lobby.page.goto(`${system.httpUrl}/lobby?token=${lobbyToken}`);
  const tile = lobby.page.locator(`article[data-space="${ROOM}"]`);
  const tileNotice = tile.locator('.space-notice');
  await tileNotice.waitFor({ timeout: 15_000 });
  t.equal((await tileNotice.textContent())?.trim(), TEXT, "on Protel 205's lobby tile");
  t.equal(await lobby.page.locator('article .space-notice').count(), 1, 'on no other tile');
  await saveScreenshot(lobby.page, 'lobby-notice-landscape');

  t.equal((await api(staff, 'DELETE', `/api/spaces/${ROOM}/notices/air`)).status, 204, 'taken down');
  // The lobby asks every 30 s.
  await tileNotice.waitFor({ state: 'detached', timeout: 45_000 });
  t.pass('gone from the lobby tile');
  await mine.page.reload();
  await mine.page.getByText(/Angemeldet als/).waitFor();
  await mine.page.waitForTimeout(1500);
  t.equal(await mine.page.locator('.space-notice').count(), 0, "and from the booker's member view");
  // The member page asks who is signed in before the form: that 401 is expected, nothing else.
  const signedOutCheck = /status of 401 \(Unauthorized\)/;
  t.same(
    [...mine.errors, ...theirs.errors].filter((e) => !signedOutCheck.test(e)),
    [],
    'no errors in the member pages but the signed-out check',
  );
  t.equal(
    mine.errors.filter((e) => signedOutCheck.test(e)).length,
    1,
    "the booker's page: only the one check before signing in",
  );
  t.same(lobby.errors, [], 'none in the lobby');
});
