import { defineTexts, translator } from '../../i18n.svelte.ts';

/** Every word the guest-key page shows, German first. */
export const keyTexts = defineTexts(
  {
    pageTitle: 'Gastschlüssel',
    loading: 'Lade den Schlüssel …',
    opens: 'Dieser Schlüssel öffnet: {space}',
    window: '{date}, {start}–{end}',
    open: 'Tür öffnen',
    opening: 'Öffne …',
    unlocked: 'Die Tür ist offen. Willkommen!',
    not_yet: 'Noch nicht: der Schlüssel öffnet ab {time}.',
    expired: 'Dieser Schlüssel ist abgelaufen.',
    revoked: 'Dieser Schlüssel wurde zurückgezogen.',
    booking_cancelled: 'Die Buchung zu diesem Schlüssel gibt es nicht mehr.',
    host_gone: 'Dieser Schlüssel gilt nicht mehr.',
    no_lock: 'Diese Tür hat kein Schloss, das sich öffnen lässt.',
    lock_offline: 'Das Schloss ist gerade nicht erreichbar. Bitte gleich noch einmal versuchen.',
    timeout:
      'Das Schloss hat nicht geantwortet. Vielleicht ist die Tür doch offen – sonst noch einmal tippen.',
    failed: 'Das Schloss hat abgelehnt. Bitte die Person fragen, die den Schlüssel geschickt hat.',
    rate_limited: 'Zu oft getippt. Bitte in {s} s noch einmal.',
    unknown: 'Diesen Schlüssel gibt es nicht. Ist der Link vollständig?',
    problem: 'Das hat nicht geklappt ({detail}).',
    note: 'Nur ein Tippen öffnet die Tür; das Öffnen des Links allein nicht.',
  },
  {
    pageTitle: 'Guest key',
    loading: 'Loading the key …',
    opens: 'This key opens: {space}',
    window: '{date}, {start}–{end}',
    open: 'Open the door',
    opening: 'Opening …',
    unlocked: 'The door is open. Welcome!',
    not_yet: 'Not yet: the key opens from {time}.',
    expired: 'This key has expired.',
    revoked: 'This key has been revoked.',
    booking_cancelled: 'The booking of this key no longer exists.',
    host_gone: 'This key is no longer valid.',
    no_lock: 'This door has no lock that can be opened.',
    lock_offline: 'The lock cannot be reached right now. Please try again in a moment.',
    timeout: 'The lock did not answer. The door may be open – if not, tap again.',
    failed: 'The lock refused. Please ask the person who sent you the key.',
    rate_limited: 'Too many taps. Please try again in {s} s.',
    unknown: 'This key does not exist. Is the link complete?',
    problem: 'That did not work ({detail}).',
    note: 'Only a tap opens the door; opening the link alone does not.',
  },
);

export const t = translator(keyTexts);
