import { defineTexts, translator } from '../../i18n.svelte.ts';

/** Every word the public events page shows, German first. */
export const eventsTexts = defineTexts(
  {
    pageTitle: 'Veranstaltungen',
    intro: 'Offen für alle – ohne Anmeldung. Was in den nächsten Wochen im Haus stattfindet.',
    loading: 'Lade Veranstaltungen …',
    none: 'In den nächsten Wochen ist keine öffentliche Veranstaltung geplant.',
    failed: 'Die Veranstaltungen können gerade nicht geladen werden ({detail}).',
    timeRange: '{start}–{end}',
    places: '{n} Plätze',
    subscribe: 'Im Kalender abonnieren (iCalendar)',
    membersLink: 'Mitglieder: Anmelden und buchen',
  },
  {
    pageTitle: 'Events',
    intro: 'Open to everyone – no sign-in needed. What is on in the house in the coming weeks.',
    loading: 'Loading events …',
    none: 'No public event is planned for the coming weeks.',
    failed: 'The events cannot be loaded right now ({detail}).',
    timeRange: '{start}–{end}',
    places: '{n} places',
    subscribe: 'Subscribe in your calendar (iCalendar)',
    membersLink: 'Members: sign in and book',
  },
);

export const t = translator(eventsTexts);
