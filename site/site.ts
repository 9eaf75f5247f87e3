import Type, { type Static } from 'typebox';

/**
 * The site file: one building described by its operator (floors, spaces, devices).
 * Written in YAML or JSON; validated against this schema at load so a typo is a clear error at start,
 * not a silent gap in the data.
 */

const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'lower-case id: a-z 0-9 _ -' });

export const SpaceKind = Type.Union([
  Type.Literal('desk'),
  Type.Literal('desk_area'),
  Type.Literal('protel'),
  Type.Literal('meeting_room'),
  Type.Literal('office'),
  Type.Literal('hall'),
  Type.Literal('cafe'),
  Type.Literal('locker'),
  Type.Literal('circulation'),
  Type.Literal('technical'),
]);

export const OpeningHours = Type.Object({
  /** ISO weekdays 1 (Monday) … 7 (Sunday). */
  days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1 }),
  open: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
  close: Type.String({ pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$' }),
});

export const Space = Type.Object({
  id: Id,
  name: Type.String({ minLength: 1 }),
  floor: Id,
  kind: SpaceKind,
  area_m2: Type.Number({ exclusiveMinimum: 0 }),
  capacity: Type.Optional(Type.Integer({ minimum: 0 })),
  /**
   * The room's heat-loss coefficient H, W/K: the watts of heat it loses (through walls, windows, air change)
   * per kelvin between inside and outside. The board report estimates what a thermostat's setback saved by
   * it (reports/automation-savings.ts); without it the report gives the setback's degree-hours only.
   */
  heat_loss_w_per_k: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  bookable: Type.Optional(Type.Boolean()),
  /** Device id of the lock that opens this space. */
  lock: Type.Optional(Id),
  /** Desk areas contain desks: the desks name their area as parent. */
  parent: Type.Optional(Id),
  opening_hours: Type.Optional(Type.Array(OpeningHours)),
  /**
   * The public opening hours: when the space stands open to anyone without charge (the discourse space).
   * A space that has them is a public space for the common-good report (reports/common-good.ts).
   */
  public_hours: Type.Optional(Type.Array(OpeningHours)),
});

/** EUR per booked hour, by the kind of space. */
export const HourPrices = Type.Object(
  {
    desk: Type.Optional(Type.Number({ minimum: 0 })),
    protel: Type.Optional(Type.Number({ minimum: 0 })),
    meeting_room: Type.Optional(Type.Number({ minimum: 0 })),
    office: Type.Optional(Type.Number({ minimum: 0 })),
    hall: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const Floor = Type.Object({
  id: Id,
  name: Type.String({ minLength: 1 }),
  level: Type.Integer(),
  area_m2: Type.Number({ exclusiveMinimum: 0 }),
});

/** One channel of a device (relay or switch output, meter phase) placed in a space of its own. */
export const DeviceChannel = Type.Object({
  /** As the firmware numbers it: `relay/2`, `switch:2`, `emeter/2` are channel 2. */
  channel: Type.Integer({ minimum: 0, maximum: 99 }),
  space: Id,
});

export const Device = Type.Object({
  id: Id,
  /** DeviceProfile id, e.g. `zigbee2mqtt-occupancy`. */
  profile: Type.String({ minLength: 1 }),
  /** The device's base topic, exactly as its firmware is configured (e.g. `shellies/shellyem-B9A3F1`). */
  topic: Type.String({ minLength: 1 }),
  space: Id,
  /** MQTT user name the device connects with; defaults to the device id. */
  username: Type.Optional(Type.String({ minLength: 1 })),
  /** scrypt hash (`scrypt$N$r$p$salt$hash`, see site/credentials.ts); without it a password is generated on first start. */
  password_hash: Type.Optional(Type.String()),
  /** What the meter measures, for reports (`main`, `lighting`, `hvac`, `plug`); all its channels count. */
  meter_role: Type.Optional(Type.String()),
  /** Channels that feed a space other than the device's (a Pro 4PM feeding four Protel rooms). */
  channels: Type.Optional(Type.Array(DeviceChannel)),
});

/**
 * In a network (SITES_DIR): members of other sites (`*`: of every other) may book and open spaces of these
 * kinds here. Without any, the site takes no guests; its own members and whoever it gave a role are no guests.
 */
export const GuestRule = Type.Object({
  from: Type.Array(Type.String({ pattern: '^(\\*|[a-z0-9][a-z0-9_-]{0,63})$' }), { minItems: 1 }),
  kinds: Type.Array(SpaceKind, { minItems: 1 }),
});

export const Site = Type.Object({
  site: Type.Object({
    id: Id,
    name: Type.String({ minLength: 1 }),
    timezone: Type.String({ default: 'Europe/Berlin' }),
    address: Type.Optional(Type.String()),
    /** Market-based emission factor of the electricity supplier, g CO2e per kWh. */
    supplier_co2_g_per_kwh: Type.Optional(Type.Number({ minimum: 0 })),
    /**
     * Emission factor of the building's heat, g CO2e per kWh of heat delivered to the rooms: the fuel's factor
     * over the heating's efficiency (natural gas, 240 g/kWh by GEG Anlage 9, in a 90 % boiler: 267). The board
     * report's heating savings carry no CO2e without it.
     */
    heating_co2_g_per_kwh: Type.Optional(Type.Number({ minimum: 0 })),
    /** Location-based grid factors per year, g CO2e per kWh (`"2025": 350`); they win over the built-in Umweltbundesamt table. */
    grid_co2_g_per_kwh: Type.Optional(
      Type.Record(Type.String(), Type.Number({ minimum: 0 }), { propertyNames: { pattern: '^[0-9]{4}$' } }),
    ),
    /** What a kWh of electricity costs the house (EUR, all in): the common-good report's energy cost. */
    energy_eur_per_kwh: Type.Optional(Type.Number({ minimum: 0 })),
    /**
     * What a booked hour of a paid space brings in, EUR per kind (`desk: 2.5`, `protel: 6`): the
     * common-good report values booked hours at these prices. A kind without a price is not a paid space.
     */
    hour_prices_eur: Type.Optional(HourPrices),
  }),
  floors: Type.Array(Floor, { minItems: 1 }),
  spaces: Type.Array(Space),
  devices: Type.Array(Device),
  guests: Type.Optional(Type.Array(GuestRule)),
});

export type SiteConfig = Static<typeof Site>;
export type SpaceConfig = Static<typeof Space>;
export type FloorConfig = Static<typeof Floor>;
export type DeviceConfig = Static<typeof Device>;
