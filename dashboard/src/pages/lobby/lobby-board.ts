/**
 * The lobby screen's board: what GET /api/lobby and the channel /api/lobby/live send (api/lobby-routes.ts,
 * api/lobby-availability.ts), how a channel message changes the board, and how the board is laid out so that
 * a whole building fits one screen. Pure: no DOM, no texts (the page words them through lobby-texts.ts).
 */

export type Co2Level = 'good' | 'elevated' | 'poor';

export interface LobbySpace {
  id: string;
  name: string;
  floor: string;
  kind: string;
  capacity: number | null;
  parent: string | null;
  status: 'free' | 'busy' | 'closed';
  free: boolean;
  freeUntil: number | null;
  busyUntil: number | null;
  occupied: boolean | null;
  co2Level: Co2Level | null;
  desks: { total: number; free: number; occupied: number } | null;
}

export interface LobbyFloor {
  id: string;
  name: string;
  level: number;
}

export interface LobbyBoard {
  site: { id: string; name: string; timezone: string };
  at: number;
  floors: LobbyFloor[];
  spaces: LobbySpace[];
}

export type LobbyMessage =
  | { type: 'hello'; channel: 'lobby'; site: string }
  | ({ type: 'lobby' } & LobbyBoard)
  | { type: 'lobby-space'; site: string; at: number; space: LobbySpace }
  | { type: 'heartbeat'; at: number };

/** The board after one channel message; the same board when the message changes nothing on it. */
export function applyMessage(board: LobbyBoard | null, message: unknown): LobbyBoard | null {
  if (!message || typeof message !== 'object') return board;
  const m = message as LobbyMessage;
  if (m.type === 'lobby') {
    return { site: m.site, at: m.at, floors: m.floors, spaces: m.spaces };
  }
  if (m.type === 'lobby-space' && board) {
    const known = board.spaces.some((s) => s.id === m.space.id);
    const spaces = known
      ? board.spaces.map((s) => (s.id === m.space.id ? m.space : s))
      : [...board.spaces, m.space];
    return { ...board, at: m.at, spaces };
  }
  return board;
}

/** The server's time carried by a message (board, change or heartbeat), to run the screen's clock by. */
export function messageTime(message: unknown): number | null {
  if (!message || typeof message !== 'object') return null;
  const at = (message as { at?: unknown }).at;
  return typeof at === 'number' && Number.isFinite(at) ? at : null;
}

/** A floor on the screen with the tiles it shows. */
export interface FloorOnScreen {
  floor: LobbyFloor;
  spaces: LobbySpace[];
}

/**
 * The screen's floors from the ground up, each with its rooms and desk areas. A desk shows only through its
 * area's count ("12 of 20 desks free"): sixty desk tiles would not fit and nobody reads them from 3 m.
 */
export function floorsOnScreen(board: LobbyBoard): FloorOnScreen[] {
  const shown = new Set(board.spaces.map((s) => s.id));
  const tiles = board.spaces.filter((s) => s.parent === null || !shown.has(s.parent));
  const known = [...board.floors].sort((a, b) => a.level - b.level);
  const unknownFloors = [...new Set(tiles.map((s) => s.floor))]
    .filter((id) => !known.some((f) => f.id === id))
    .map((id, i) => ({ id, name: id, level: 1000 + i }));
  return [...known, ...unknownFloors]
    .map((floor) => ({ floor, spaces: tiles.filter((s) => s.floor === floor.id) }))
    .filter((f) => f.spaces.length > 0);
}

/**
 * What the second line of a tile says, before it is put into words. `daysAhead` counts calendar days in the
 * building from today to `at` (0: today, 1: tomorrow): the page says a time alone today, a weekday and time
 * within the week ahead, a date beyond.
 */
export type UntilPhrase =
  | { kind: 'freeForToday' }
  | { kind: 'freeUntil'; at: number; daysAhead: number }
  | { kind: 'busy' }
  | { kind: 'busyUntil'; at: number; daysAhead: number }
  | { kind: 'closed' }
  | { kind: 'closedUntil'; at: number; daysAhead: number };

/** The calendar day of an instant in the site's time zone, e.g. "2026-11-23". */
export function siteDay(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

/**
 * Calendar days in the building from the day of `now` to the day of `at`: across midnight, the turn of the
 * year and the clock changes alike (a day of 23 or 25 hours is still one day).
 */
export function siteDaysAhead(at: number, now: number, timeZone: string): number {
  return Math.round((Date.parse(siteDay(at, timeZone)) - Date.parse(siteDay(now, timeZone))) / 86_400_000);
}

/**
 * Free until when, busy until when: a time alone when it is today in the building, with the day when later.
 * Free with nothing ending it today is "free for today": a visitor plans the day, not next week.
 */
export function untilPhrase(space: LobbySpace, now: number, timeZone: string): UntilPhrase {
  const daysAhead = (at: number) => siteDaysAhead(at, now, timeZone);
  if (space.status === 'free') {
    if (space.freeUntil === null || daysAhead(space.freeUntil) !== 0) return { kind: 'freeForToday' };
    return { kind: 'freeUntil', at: space.freeUntil, daysAhead: 0 };
  }
  if (space.status === 'busy') {
    if (space.busyUntil === null) return { kind: 'busy' };
    return { kind: 'busyUntil', at: space.busyUntil, daysAhead: daysAhead(space.busyUntil) };
  }
  if (space.busyUntil === null) return { kind: 'closed' };
  return { kind: 'closedUntil', at: space.busyUntil, daysAhead: daysAhead(space.busyUntil) };
}

/** A tile takes two grid cells (or the whole row on a narrow grid) when it has more to say. */
export function isWideTile(space: LobbySpace): boolean {
  return space.desks !== null || space.name.length > 26;
}

export function tileSpan(space: LobbySpace, columns: number): number {
  if (!isWideTile(space)) return 1;
  return columns >= 4 ? 2 : columns;
}

export interface ScreenLayout {
  columns: number;
  /** The tiles' base font size in px: everything on a tile is sized in em of it. */
  fontPx: number;
  /** Floor names beside the floor's tiles (wide screens) or above them (portrait screens). */
  labelsBeside: boolean;
}

/** Height of one tile in em of its font: name, status, air and presence lines, and padding. */
const TILE_EM_HIGH = 4.4;
/** Width a tile needs in em to say "Belegt bis 16:30" and "Luft gut · Jemand da" on one line each. */
const TILE_EM_WIDE = 12.5;
const GAP_EM = 0.5;
const FLOOR_GAP_EM = 0.8;
/** Floor label column (beside) or heading row (above), in em. */
const LABEL_EM_WIDE = 8;
const LABEL_EM_HIGH = 1.7;
const MAX_FONT_PX = 64;

/**
 * The number of tile columns that gives the biggest type while every floor fits on the screen without
 * scrolling: a kiosk is read from 3 m, and nobody scrolls it.
 */
export function screenLayout(floors: FloorOnScreen[], width: number, height: number): ScreenLayout {
  const labelsBeside = width > height;
  let best: ScreenLayout = { columns: 1, fontPx: 1, labelsBeside };
  if (floors.length === 0 || width <= 0 || height <= 0) return best;
  const widest = Math.max(...floors.map((f) => f.spaces.length * 2));
  for (let columns = 1; columns <= Math.max(1, widest); columns++) {
    const rows = floors.reduce(
      (sum, f) => sum + Math.ceil(f.spaces.reduce((n, s) => n + tileSpan(s, columns), 0) / columns),
      0,
    );
    const gapsHigh = (rows - floors.length) * GAP_EM + (floors.length - 1) * FLOOR_GAP_EM;
    const emHigh = rows * TILE_EM_HIGH + gapsHigh + (labelsBeside ? 0 : floors.length * LABEL_EM_HIGH);
    const emWide = columns * TILE_EM_WIDE + (columns - 1) * GAP_EM + (labelsBeside ? LABEL_EM_WIDE : 0);
    const fontPx = Math.min(height / emHigh, width / emWide, MAX_FONT_PX);
    if (fontPx > best.fontPx) best = { columns, fontPx, labelsBeside };
  }
  // A little room for rounding and for fonts taller than the estimate.
  return { ...best, fontPx: Math.floor(best.fontPx * 0.97 * 10) / 10 };
}
