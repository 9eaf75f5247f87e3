import type { CommandIo, DeviceMessage } from '../simulations/virtual-device.ts';

/**
 * A virtual device's command io at a fixed simulated instant, for the families' simulator tests: what the
 * device publishes is collected in `published`, and what it would do later (`after`) it does at once.
 */
export function commandIoAt(simNow: number, published: DeviceMessage[]): CommandIo {
  return { publish: (m) => published.push(...m), after: (_ms, action) => action(), simNow: () => simNow };
}
