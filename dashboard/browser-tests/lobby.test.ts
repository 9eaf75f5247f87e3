import path from 'node:path';
import type { Page, WebSocketRoute } from 'playwright-core';
import t, { type Test } from 'tap';
import { openingIntervals } from '../../bookings/booking-rules.ts';
import { openRecords } from '../../database/database.ts';
import { Identity } from '../../members/identity.ts';
import { newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { type RunningSystem, startRunningSystem } from '../../test-support/running-system.ts';

/**
 * The lobby screen on the whole running system with the simulated building: what a visitor sees on a 1080p
 * screen, landscape and portrait; a booking made through the API and a person walking into a room show up
 * without a reload; a cut connection is shown as such and heals by itself; a wrong token shows nothing but
 * the refusal.
 */

interface LobbyEntry {
  id: string;
  name: string;
  kind: string;
  status: string;
  freeUntil: number | null;
  parent: string | null;
}

/** Lobby tokens as the CLI makes and revokes them, on the running system's records. */
async function withLobbyTokens<T>(
  system: RunningSystem,
  use: (tokens: Identity['lobbyTokens']) => Promise<T>,
): Promise<T> {
  const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
  try {
    return await use(new Identity(records).lobbyTokens);
  } finally {
    records.close();
  }
}

async function signIn(system: RunningSystem, email: string, password: string): Promise<string> {
  const response = await fetch(`${system.httpUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status}`);
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  if (!cookie.startsWith('wesprint_session=')) throw new Error('no session cookie');
  return cookie;
}

/** The page's visible text, to look for what must never be there. */
async function visibleText(page: Page): Promise<string> {
  return String(await page.evaluate('document.body.innerText'));
}

function noPersonalData(t: Test, system: RunningSystem, text: string, where: string): void {
  const leaks = system.demo.flatMap((p) => [p.email, p.name]).filter((secret) => text.includes(secret));
  t.same(leaks, [], `${where}: no member names or e-mails`);
  t.notMatch(text, /[\w.+-]+@[\w-]+\.[\w.]+/, `${where}: nothing that looks like an e-mail address`);
}

/** The whole board is on the screen: nothing scrolls, no floor runs out of its box, no line is cut off. */
async function fitsScreen(page: Page): Promise<boolean> {
  return Boolean(
    await page.evaluate(`(() => {
      const root = document.scrollingElement;
      const floors = document.querySelector('.floors');
      const range = document.createRange();
      const linesWhole = [...document.querySelectorAll('article .fit, article .meta')].every((line) => {
        range.selectNodeContents(line);
        return range.getBoundingClientRect().width <= line.clientWidth + 0.5;
      });
      return root.scrollHeight <= window.innerHeight && root.scrollWidth <= window.innerWidth &&
        floors !== null && floors.scrollHeight <= floors.clientHeight + 1 && linesWhole;
    })()`),
  );
}

const BERLIN = 'Europe/Berlin';
const WORDS = {
  de: {
    busyUntil: 'Belegt bis',
    opensAt: 'Öffnet um',
    opens: 'Öffnet',
    desks: /\d+ von 30 Plätzen frei|Alle 30 Plätze belegt/,
  },
  en: {
    busyUntil: 'Busy until',
    opensAt: 'Opens at',
    opens: 'Opens',
    desks: /\d+ of 30 desks free|All 30 desks taken/,
  },
} as const;
type Lang = keyof typeof WORDS;

function berlinTime(ms: number): string {
  return new Intl.DateTimeFormat('de-DE', { hour: '2-digit', minute: '2-digit', timeZone: BERLIN }).format(
    ms,
  );
}

function berlinDay(ms: number): string {
  return new Intl.DateTimeFormat('en-CA', { dateStyle: 'short', timeZone: BERLIN }).format(ms);
}

/** The weekday as the screen names a later day within the week ahead ("Fr."; Node's ICU says "Fr"). */
function berlinWeekday(ms: number, lang: Lang): string {
  const name = new Intl.DateTimeFormat(lang === 'de' ? 'de-DE' : 'en-GB', {
    weekday: 'short',
    timeZone: BERLIN,
  }).format(ms);
  return `${literal(name.replace(/\.$/, ''))}.?`;
}

/** A literal phrase as a pattern. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * "<lead> 01:45" while `at` is today in Berlin, "<lead> Fr. 01:45" when it falls on a later day: the phrase
 * the screen shows now or within the next two minutes (a run at 23:59 may see midnight pass while it waits).
 */
function untilWords(at: number, lang: Lang, lead: string, leadToday = lead): RegExp {
  const phrase = (now: number) =>
    berlinDay(at) === berlinDay(now)
      ? `${literal(leadToday)} ${berlinTime(at)}`
      : `${literal(lead)} ${berlinWeekday(at, lang)} ${berlinTime(at)}`;
  const now = Date.now();
  return new RegExp([...new Set([phrase(now), phrase(now + 120_000)])].join('|'));
}

/**
 * What the desk area Coworking Nord says at this instant, from its opening hours (the rule bookings obey): a
 * count of free desks while open, when it opens next while closed (at night, on Sundays).
 */
function deskAreaWords(system: RunningSystem, lang: Lang): RegExp {
  const area = system.site.spaces.find((s) => s.name === 'Coworking Nord');
  if (!area) throw new Error('no Coworking Nord in the demo building');
  const now = Date.now();
  const open = openingIntervals(area, { start: now, end: now + 8 * 86_400_000 }, BERLIN);
  if (open.some((i) => i.start <= now && now < i.end)) return WORDS[lang].desks;
  const opens = open.find((i) => i.start > now);
  if (!opens) throw new Error('Coworking Nord does not open within a week');
  return untilWords(opens.start, lang, WORDS[lang].opens, WORDS[lang].opensAt);
}

// The silence check waits out the screen's 30 s of patience on purpose; the rest takes a few seconds.
t.setTimeout(240_000);

t.test('the lobby screen: live, readable, honest about a lost connection, never personal', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ simulation: true });
  t.teardown(() => system.stop());
  const simulation = system.simulation;
  if (!simulation) throw new Error('the simulation did not start');
  const { id: tokenId, token } = await withLobbyTokens(system, (tokens) =>
    tokens.create('Browser test screen'),
  );
  const board = (await (await fetch(`${system.httpUrl}/api/lobby?token=${token}`)).json()) as {
    spaces: LobbyEntry[];
  };
  const tilesExpected = board.spaces.filter((s) => s.parent === null).length;
  const room = board.spaces.find(
    (s) =>
      s.kind === 'protel' &&
      s.status === 'free' &&
      (s.freeUntil === null || s.freeUntil >= Date.now() + 3 * 3_600_000),
  );
  if (!room) throw new Error('no free Protel room in the demo building');
  const meeting = board.spaces.find((s) => s.kind === 'meeting_room');
  if (!meeting) throw new Error('no meeting room in the demo building');

  // Landscape, German (the default), with the socket routed through the test so that it can be cut.
  const { page, errors } = await newPage(browser, VIEWPORTS.lobbyLandscape);
  let cut = false;
  let muted = false;
  const sockets: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/api\/lobby\/live/, (ws) => {
    if (cut) {
      void ws.close();
      return;
    }
    sockets.push(ws);
    const server = ws.connectToServer();
    // Forwarded by hand, so that the server can fall silent while the connection stays open.
    server.onMessage((message) => {
      if (!muted) ws.send(message);
    });
    ws.onMessage((message) => server.send(message));
  });
  await page.goto(`${system.httpUrl}/lobby?token=${token}`);
  await page.getByRole('heading', { name: 'Kaufhaus am Markt', level: 1 }).waitFor();
  await page.getByText('Live', { exact: true }).waitFor();
  t.equal(await page.locator('article').count(), tilesExpected, 'one tile per room and desk area');
  for (const floor of ['Erdgeschoss', '1. Obergeschoss – Coworking', '2. Obergeschoss – Protel']) {
    t.ok(await page.getByRole('heading', { name: floor, level: 2 }).isVisible(), `floor "${floor}"`);
  }
  t.match(
    await page.locator('article', { hasText: 'Coworking Nord' }).textContent(),
    deskAreaWords(system, 'de'),
    'a desk area counts its free desks while open, says when it opens while closed',
  );
  t.ok(await fitsScreen(page), '1920×1080: everything on the screen, nothing scrolls or is cut off');
  t.equal(await page.getByRole('button').count(), 0, 'no buttons on a kiosk (no language switch)');
  t.equal(await page.getAttribute('html', 'lang'), 'de', 'German by default');
  await saveScreenshot(page, 'lobby-landscape');
  noPersonalData(t, system, await visibleText(page), 'landscape');

  // A booking through the API by a member: the room turns busy without a reload.
  await page.evaluate('window.__sameDocument = true');
  const member = system.person('member');
  const cookie = await signIn(system, member.email, member.password);
  const tile = page.locator('article', { hasText: room.name });
  t.match(await tile.textContent(), /Frei/, `${room.name} is free before`);
  // The quarter hour that has begun may still be booked: the booking covers now. Taken just before the
  // request: the quarter hour may end while the screen loads.
  const start = Math.floor(Date.now() / 900_000) * 900_000;
  const end = start + 2 * 3_600_000;
  const booked = Date.now();
  const response = await fetch(`${system.httpUrl}/api/bookings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({
      spaceId: room.id,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
    }),
  });
  t.equal(response.status, 201, 'booked through the API');
  await tile.getByText(untilWords(end, 'de', WORDS.de.busyUntil)).waitFor({ timeout: 5000 });
  t.comment(`booking -> lobby screen took ${Date.now() - booked} ms`);
  t.equal(await page.evaluate('window.__sameDocument'), true, 'shown without a reload');
  await saveScreenshot(page, 'lobby-landscape-booked');

  // Someone walks into the meeting room and the air gets bad: the simulator's sensors report at once.
  const meetingTile = page.locator('article', { hasText: meeting.name });
  simulation.stage(meeting.id, { people: 0, co2Ppm: 600 });
  await meetingTile.getByText('Niemand da').waitFor({ timeout: 5000 });
  await meetingTile.getByText('Luft gut').waitFor({ timeout: 5000 });
  simulation.stage(meeting.id, { people: 5, co2Ppm: 2400 });
  await meetingTile.getByText('Jemand da').waitFor({ timeout: 5000 });
  await meetingTile.getByText('Luft schlecht').waitFor({ timeout: 5000 });
  t.pass('occupancy and air quality change live');
  t.equal(await page.evaluate('window.__sameDocument'), true, 'still without a reload');
  await saveScreenshot(page, 'lobby-landscape-occupied');

  // The connection is cut and every reconnect refused: the screen says its data may be old.
  const stale = page.getByRole('status').filter({ hasText: 'Keine aktuellen Daten' });
  t.notOk(await stale.isVisible(), 'no stale warning while live');
  cut = true;
  for (const ws of sockets) await ws.close();
  await stale.waitFor({ timeout: 5000 });
  t.match(await stale.textContent(), /Stand \d\d:\d\d/, 'it says how old the data is');
  await saveScreenshot(page, 'lobby-landscape-stale');
  // The network is back: the screen reconnects by itself and the warning goes.
  cut = false;
  await stale.waitFor({ state: 'hidden', timeout: 30_000 });
  await page.getByText('Live', { exact: true }).waitFor();
  t.pass('reconnected by itself');
  await tile.getByText(untilWords(end, 'de', WORDS.de.busyUntil)).waitFor();

  // The connection stays open but nothing comes any more (a half-open link, a hung server): after three
  // missed heartbeats the screen says so, and once messages flow again the warning goes.
  muted = true;
  const silenced = Date.now();
  await stale.waitFor({ timeout: 60_000 });
  t.comment(`silence -> stale warning after ${Date.now() - silenced} ms`);
  await saveScreenshot(page, 'lobby-landscape-silent');
  muted = false;
  await stale.waitFor({ state: 'hidden', timeout: 30_000 });
  await page.getByText('Live', { exact: true }).waitFor();
  t.pass('the silence is noticed, and the screen recovers by itself');
  t.same(errors, [], 'no errors in the page');
  noPersonalData(t, system, await visibleText(page), 'after the updates');
  noPersonalData(t, system, await page.content(), 'the page source');

  // Portrait, English through the URL.
  const portrait = await newPage(browser, VIEWPORTS.lobbyPortrait);
  await portrait.page.goto(`${system.httpUrl}/lobby?token=${token}&lang=en`);
  await portrait.page.getByRole('heading', { name: 'Kaufhaus am Markt', level: 1 }).waitFor();
  await portrait.page
    .locator('article', { hasText: room.name })
    .getByText(untilWords(end, 'en', WORDS.en.busyUntil))
    .waitFor();
  t.equal(await portrait.page.getAttribute('html', 'lang'), 'en', '?lang=en: English');
  t.match(
    await portrait.page.locator('article', { hasText: 'Coworking Nord' }).textContent(),
    deskAreaWords(system, 'en'),
    'English: the desk area by its opening hours',
  );
  t.ok(await fitsScreen(portrait.page), '1080×1920: everything on the screen, nothing scrolls or is cut off');
  await saveScreenshot(portrait.page, 'lobby-portrait');
  noPersonalData(t, system, await visibleText(portrait.page), 'portrait');
  t.same(portrait.errors, [], 'no errors in the portrait page');

  // The operator revokes the screen's token: the screen lets go of its data and shows the refusal.
  t.ok(await withLobbyTokens(system, (tokens) => tokens.revoke(tokenId)), 'token revoked');
  await page
    .getByRole('alert')
    .getByText('Dieser Bildschirm ist nicht freigeschaltet')
    .waitFor({ timeout: 30_000 });
  t.equal(await page.locator('article').count(), 0, 'revoked: no tiles any more');
  t.notMatch(await visibleText(page), /Protel|Frei/, 'revoked: no rooms or states');
  await saveScreenshot(page, 'lobby-landscape-revoked');

  // A wrong token: the refusal, full screen, and no data at all.
  const wrong = await newPage(browser, VIEWPORTS.lobbyLandscape);
  await wrong.page.goto(`${system.httpUrl}/lobby?token=not-a-real-token`);
  await wrong.page.getByRole('alert').getByText('Dieser Bildschirm ist nicht freigeschaltet').waitFor();
  t.equal(await wrong.page.locator('article').count(), 0, 'no tiles');
  t.notMatch(await visibleText(wrong.page), /Kaufhaus am Markt|Protel|Frei/, 'no site name, rooms or states');
  await saveScreenshot(wrong.page, 'lobby-wrong-token');
});
