import { isQuantity, QUANTITIES, type QuantityDescription } from '../../../../building/quantities.ts';
import { format, language } from '../../i18n.svelte.ts';
import { t } from './facility-texts.ts';

/**
 * A quantity and its value as people read them, from the quantity's description (building/quantities.ts):
 * its label, its unit and the decimals worth showing, a state's word in the page's language. A family that
 * reports a quantity this page was not written for needs nothing here.
 */

function described(quantity: string): QuantityDescription | undefined {
  return isQuantity(quantity) ? QUANTITIES[quantity] : undefined;
}

export function quantityLabel(quantity: string): string {
  return described(quantity)?.label[language.current] ?? quantity;
}

export function readingText(quantity: string, value: number | string): string {
  const description = described(quantity);
  if (typeof value === 'string') return description?.stateLabels?.[value]?.[language.current] ?? value;
  if (!description) return format.number(value, 1);
  if (description.class === 'binary') return value !== 0 ? t('yes') : t('no');
  return `${format.number(value, description.decimals)} ${description.unit}`;
}
