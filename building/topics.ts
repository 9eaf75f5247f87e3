/**
 * The building's own MQTT topics: what the gateway republishes after decoding, what the API listens to,
 * and where commands travel. Vendor topics never leave the gateway; everything downstream speaks this.
 *
 *   wesprint/<site>/readings/<space>/<device>/<quantity>   {"value","unit","ts","channel"}  QoS 0
 *   wesprint/<site>/devices/<device>/status                {"online","lastSeen",...}       retained
 *   wesprint/<site>/commands/<device>                      {"id","action","expiresAt",      QoS 1
 *                                                           "channel"?,"value"?}
 *   wesprint/<site>/commands/<device>/result               {"id","outcome","detail","ts"}  QoS 1
 *   wesprint/<site>/gateway/status                         "online" | "offline" (LWT)      retained
 */
export const ROOT = 'wesprint';

export function buildingTopics(site: string) {
  const base = `${ROOT}/${site}`;
  return {
    base,
    reading: (space: string, device: string, quantity: string) =>
      `${base}/readings/${space}/${device}/${quantity}`,
    allReadings: `${base}/readings/#`,
    deviceStatus: (device: string) => `${base}/devices/${device}/status`,
    allDeviceStatus: `${base}/devices/+/status`,
    command: (device: string) => `${base}/commands/${device}`,
    allCommands: `${base}/commands/+`,
    commandResult: (device: string) => `${base}/commands/${device}/result`,
    allCommandResults: `${base}/commands/+/result`,
    gatewayStatus: `${base}/gateway/status`,
  };
}

export type BuildingTopics = ReturnType<typeof buildingTopics>;

/**
 * Payload of a reading on the building's topics. `<space>` in the topic is the channel's (a channel the
 * site file places in a space of its own is published there).
 */
export interface ReadingMessage {
  value: number | string;
  unit: string;
  ts: number;
  /** The device's channel the reading was measured on; `0` for a device with one. */
  channel: string;
}

/** Payload of a device status (retained). */
export interface DeviceStatusMessage {
  device: string;
  online: boolean;
  /** Epoch ms of the last message from the device, or null if never heard. */
  lastSeen: number | null;
  battery?: number;
}

export interface CommandMessage {
  /** Unique id (UUID); a command id is executed at most once. */
  id: string;
  action: string;
  /** Epoch ms after which the gateway must not execute it. */
  expiresAt: number;
  /** Which channel of the device (switch output 2 of a Pro 4PM is `2`); absent: channel 0. */
  channel?: string;
  /**
   * The value of an action that takes one (`set_setpoint`: °C), in the range its family declares
   * (`DeviceProfile.actionValues`); absent for every other action.
   */
  value?: number;
}

export type CommandOutcome =
  | 'done'
  | 'failed'
  | 'expired'
  | 'duplicate'
  | 'unsupported'
  | 'offline'
  | 'timeout'
  /** The value is not one the action takes (out of the device's range or off its steps): nothing sent. */
  | 'invalid_value';

export interface CommandResultMessage {
  id: string;
  outcome: CommandOutcome;
  detail: string;
  ts: number;
}
