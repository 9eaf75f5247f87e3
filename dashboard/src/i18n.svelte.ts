/**
 * German first (the cooperatives' working language), English on request. Each page keeps its own texts
 * (`defineTexts` in the page's folder) so that no single dictionary becomes everyone's merge conflict; the
 * type of the English half is derived from the German one, so a text missing in English fails the type
 * check.
 */
export const LANGUAGES = ['de', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

const STORAGE_KEY = 'wesprint.language';

function initialLanguage(): Language {
  const fromUrl = new URLSearchParams(location.search).get('lang');
  if (fromUrl === 'de' || fromUrl === 'en') return fromUrl;
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === 'de' || stored === 'en') return stored;
  } catch {
    // Private mode or a kiosk without storage: the default is fine.
  }
  return 'de';
}

let current = $state<Language>(initialLanguage());

export const language = {
  get current(): Language {
    return current;
  },
  set(next: Language): void {
    current = next;
    document.documentElement.lang = next;
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Not remembered; still switched for this page.
    }
  },
  /** BCP 47 tag for Intl formatting. */
  get locale(): string {
    return current === 'de' ? 'de-DE' : 'en-GB';
  },
};

export type Texts<K extends string> = { de: Record<K, string>; en: Record<K, string> };

/** The page's texts: German with `{name}` placeholders, and the same keys in English. */
export function defineTexts<const K extends string>(
  de: Record<K, string>,
  en: NoInfer<Record<K, string>>,
): Texts<K> {
  return { de, en };
}

/**
 * `t('busyUntil', { time: '14:00' })`: the text in the current language with its placeholders filled.
 * Reading `language.current` inside makes every template that calls it follow a switch.
 */
export function translator<K extends string>(texts: Texts<K>) {
  return (key: K, values?: Record<string, string | number>): string => {
    const text = texts[current][key];
    if (!values) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
      name in values ? String(values[name]) : whole,
    );
  };
}

/** Dates, times and numbers in the current language; `timeZone` is the site's, not the browser's. */
export const format = {
  time(ms: number, timeZone?: string): string {
    return new Intl.DateTimeFormat(language.locale, { hour: '2-digit', minute: '2-digit', timeZone }).format(
      ms,
    );
  },
  date(ms: number, timeZone?: string): string {
    return new Intl.DateTimeFormat(language.locale, {
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      timeZone,
    }).format(ms);
  },
  dateTime(ms: number, timeZone?: string): string {
    return new Intl.DateTimeFormat(language.locale, {
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      timeZone,
    }).format(ms);
  },
  number(value: number, fractionDigits = 0): string {
    return new Intl.NumberFormat(language.locale, {
      minimumFractionDigits: fractionDigits,
      maximumFractionDigits: fractionDigits,
    }).format(value);
  },
};
