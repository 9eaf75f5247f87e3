import type { DeviceConfig } from './site.ts';

/**
 * The site file places a device in a space; a device with several channels (a Pro 4PM's four outputs)
 * may place each channel in a space of its own (`channels: [{channel: 2, space: protel-3}]`). A channel
 * the file does not list is in the device's space, and where a whole device is in one space its channels
 * add up to the device's meter.
 */
export function channelSpace(device: Pick<DeviceConfig, 'space' | 'channels'>, channel: string): string {
  return device.channels?.find((c) => String(c.channel) === channel)?.space ?? device.space;
}

/** Every space a device's readings can name: its own and those of its listed channels. */
export function deviceSpaces(device: Pick<DeviceConfig, 'space' | 'channels'>): string[] {
  return [...new Set([device.space, ...(device.channels ?? []).map((c) => c.space)])];
}
