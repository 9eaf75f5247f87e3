import { defineTexts, format, language, translator } from '../../i18n.svelte.ts';
import type { LobbySpace, UntilPhrase } from './lobby-board.ts';

/** Every word the lobby screen shows, German first. */
export const lobbyTexts = defineTexts(
  {
    pageTitle: 'Was ist frei?',
    todayIn: 'Heute im {room}: {events}',
    connecting: 'Verbinde …',
    staleTitle: 'Keine aktuellen Daten',
    staleSince: 'Stand {time} – Anzeige kann veraltet sein. Verbindung wird wiederhergestellt …',
    staleNever: 'Anzeige kann veraltet sein. Verbindung wird wiederhergestellt …',
    live: 'Live',
    errorTitle: 'Dieser Bildschirm ist nicht freigeschaltet',
    errorText:
      'Der Zugangsschlüssel in der Adresse fehlt, ist falsch oder wurde widerrufen. Bitte beim Betrieb des Hauses einen neuen Link für diesen Bildschirm anfordern.',
    errorOther: 'Die Anzeige kann gerade nicht geladen werden ({detail}). Neuer Versuch läuft …',
    noSpaces: 'In diesem Haus gibt es keine buchbaren Räume oder Plätze.',

    freeForToday: 'Frei für heute',
    freeUntil: 'Frei bis {time}',
    busy: 'Belegt',
    busyUntil: 'Belegt bis {time}',
    busyUntilDay: 'Belegt bis {day} {time}',
    closed: 'Geschlossen',
    closedUntil: 'Öffnet um {time}',
    closedUntilDay: 'Öffnet {day} {time}',
    desksFree: '{free} von {total} Plätzen frei',
    desksNoneFree: 'Alle {total} Plätze belegt',
    desksUntil: '{status} · {until}',
    untilTime: 'bis {time}',
    untilDay: 'bis {day} {time}',
    forToday: 'für heute',

    air_good: 'Luft gut',
    air_elevated: 'Luft mäßig',
    air_poor: 'Luft schlecht',
    airNone: 'Luft: kein Messwert',
    occupied: 'Jemand da',
    empty: 'Niemand da',
    deskPeople: '{count} anwesend',

    legendAir: 'Luftqualität (CO₂):',
    legend_good: 'gut, unter 1000 ppm',
    legend_elevated: 'mäßig, 1000–2000 ppm',
    legend_poor: 'schlecht, über 2000 ppm',
    legendPrivacy: 'Ohne Namen: hier steht nie, wer gebucht hat.',
  },
  {
    todayIn: 'Today in {room}: {events}',
    pageTitle: 'What is free?',
    connecting: 'Connecting …',
    staleTitle: 'No current data',
    staleSince: 'As of {time} – this may be out of date. Reconnecting …',
    staleNever: 'This may be out of date. Reconnecting …',
    live: 'Live',
    errorTitle: 'This screen is not authorised',
    errorText:
      "The access key in this screen's address is missing, wrong or was revoked. Please ask the building's operators for a new link for this screen.",
    errorOther: 'The board cannot be loaded right now ({detail}). Trying again …',
    noSpaces: 'This building has no rooms or desks to book.',

    freeForToday: 'Free for today',
    freeUntil: 'Free until {time}',
    busy: 'Busy',
    busyUntil: 'Busy until {time}',
    busyUntilDay: 'Busy until {day} {time}',
    closed: 'Closed',
    closedUntil: 'Opens at {time}',
    closedUntilDay: 'Opens {day} {time}',
    desksFree: '{free} of {total} desks free',
    desksNoneFree: 'All {total} desks taken',
    desksUntil: '{status} · {until}',
    untilTime: 'until {time}',
    untilDay: 'until {day} {time}',
    forToday: 'for today',

    air_good: 'Air good',
    air_elevated: 'Air fair',
    air_poor: 'Air poor',
    airNone: 'Air: no reading',
    occupied: 'Someone here',
    empty: 'Nobody here',
    deskPeople: '{count} here',

    legendAir: 'Air quality (CO₂):',
    legend_good: 'good, below 1000 ppm',
    legend_elevated: 'fair, 1000–2000 ppm',
    legend_poor: 'poor, above 2000 ppm',
    legendPrivacy: 'No names: this screen never shows who booked.',
  },
);

export const t = translator(lobbyTexts);

/**
 * The day of a time that is not today, as short as a tile from 3 m away allows: "Fr." within the week ahead
 * (a weekday cannot be mistaken there), "14. Dez." beyond.
 */
function day(at: number, daysAhead: number, timeZone: string): string {
  const within = daysAhead < 7;
  return new Intl.DateTimeFormat(language.locale, {
    ...(within ? { weekday: 'short' } : { day: 'numeric', month: 'short' }),
    timeZone,
  }).format(at);
}

/** "Frei bis 14:00", "Belegt bis Fr. 01:45", "Öffnet Mo. 07:00", "Frei für heute". */
export function statusWords(phrase: UntilPhrase, timeZone: string): string {
  switch (phrase.kind) {
    case 'freeForToday':
      return t('freeForToday');
    case 'freeUntil':
      return t('freeUntil', { time: format.time(phrase.at, timeZone) });
    case 'busy':
      return t('busy');
    case 'busyUntil':
      return phrase.daysAhead <= 0
        ? t('busyUntil', { time: format.time(phrase.at, timeZone) })
        : t('busyUntilDay', {
            day: day(phrase.at, phrase.daysAhead, timeZone),
            time: format.time(phrase.at, timeZone),
          });
    case 'closed':
      return t('closed');
    case 'closedUntil':
      return phrase.daysAhead <= 0
        ? t('closedUntil', { time: format.time(phrase.at, timeZone) })
        : t('closedUntilDay', {
            day: day(phrase.at, phrase.daysAhead, timeZone),
            time: format.time(phrase.at, timeZone),
          });
  }
}

/** A desk area's line: how many of its desks are free, and until when. */
export function deskWords(space: LobbySpace, phrase: UntilPhrase, timeZone: string): string {
  const desks = space.desks;
  if (!desks) return statusWords(phrase, timeZone);
  if (space.status === 'closed') return statusWords(phrase, timeZone);
  const count =
    desks.free > 0
      ? t('desksFree', { free: desks.free, total: desks.total })
      : t('desksNoneFree', { total: desks.total });
  let until: string;
  if (phrase.kind === 'freeUntil' || phrase.kind === 'busyUntil') {
    until =
      phrase.daysAhead <= 0
        ? t('untilTime', { time: format.time(phrase.at, timeZone) })
        : t('untilDay', {
            day: day(phrase.at, phrase.daysAhead, timeZone),
            time: format.time(phrase.at, timeZone),
          });
  } else if (phrase.kind === 'freeForToday') {
    until = t('forToday');
  } else return count;
  return t('desksUntil', { status: count, until });
}
