import type { ActionValue, DeviceAction } from './profile.ts';

/**
 * Whether a command's value fits what its action takes, as the family declared it (`actionValues`): an
 * action with a value needs one, a finite number in the vendor's range and on its resolution (a valve
 * set to 21.3 °C would round it to something nobody asked for); an action without one takes none. Pure,
 * asked by the gateway before it encodes and by the API before it sends. Returns the reason, or undefined.
 */
export function valueRefusal(
  action: DeviceAction,
  value: unknown,
  declared: ActionValue | undefined,
): string | undefined {
  if (!declared) return value === undefined ? undefined : `${action} takes no value`;
  if (value === undefined) return `${action} needs a value (${range(declared)})`;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${action} needs a number as its value`;
  if (value < declared.min || value > declared.max)
    return `${value} ${declared.unit} is outside what the device takes (${range(declared)})`;
  // In whole steps from the minimum; a float's dust (20.500000000001) is not a different value.
  const steps = (value - declared.min) / declared.step;
  if (Math.abs(steps - Math.round(steps)) > 1e-6)
    return `${value} ${declared.unit} is not in steps of ${declared.step} ${declared.unit}`;
  return undefined;
}

function range(v: ActionValue): string {
  return `${v.min}…${v.max} ${v.unit} in steps of ${v.step}`;
}
