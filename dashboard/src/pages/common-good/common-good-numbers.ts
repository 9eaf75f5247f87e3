/**
 * How the common-good page writes the API's numbers, by unit: hours with one decimal, shares as per cent,
 * people and events whole, kWh with one decimal, euros as currency. The browser test formats the API's
 * answer with these same rules and compares with the page.
 */

export interface CommonGoodUnitWords {
  hours: string;
}

export function formatCommonGood(
  value: number | null,
  unit: string | undefined,
  locale: string,
  words: CommonGoodUnitWords,
  missing = '–',
): string {
  if (value === null) return missing;
  const number = (digits: number) =>
    new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
  switch (unit) {
    case 'h':
      return `${number(1)}\u00a0${words.hours}`;
    case 'ratio':
      return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(value);
    case 'count':
      return number(0);
    case 'kWh':
      return `${number(1)}\u00a0kWh`;
    case 'EUR':
      return new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(value);
    case 'm²':
      return `${number(1)}\u00a0m²`;
    default:
      return number(3);
  }
}
