import t from 'tap';
import type { AuditEntry } from '../access/audit-log.ts';
import {
  automationSavings,
  type ConfirmedCommand,
  confirmedCommands,
  type HourFigure,
  powerKey,
  type SavingsSite,
  setbackSpans,
  switchedOffSpans,
} from './automation-savings.ts';

/**
 * Against a hand computation: November 2026 (UTC instants; the arithmetic knows no time zone), one Pro 4PM's
 * outputs switched by Node-RED and a member, two radiator valves set back. Every expected figure is worked out
 * in the comments from the inputs written here.
 */

const at = (day: number, hour: number, minute = 0) => Date.UTC(2026, 10, day, hour, minute);
const NOVEMBER = { from: at(1, 0), to: Date.UTC(2026, 11, 1) };
const PLUGS = 'og2-protel-steckdosen';
const VALVE = 'og2-protel-01-heizung';
const BARE_VALVE = 'og2-protel-02-heizung';
const hour = (day: number, h: number, value: number): HourFigure => ({ ts: at(day, h), value });

let seq = 0;
function entry(
  when: number,
  device: string,
  detail: Record<string, unknown>,
  more: Partial<AuditEntry> = {},
): AuditEntry {
  return {
    seq: ++seq,
    at: when,
    actor: 'token:node-red-1',
    action: 'device_command',
    target: device,
    decision: 'granted',
    reason: 'confirmed',
    detail: { token: 'node-red', channel: '0', ...detail },
    ...more,
  };
}
const byMember = { actor: 'member-fred' };

const entries: AuditEntry[] = [
  // Output 0: off before the month began (Oct 31 20:00), on at Nov 1 06:00.
  entry(Date.UTC(2026, 9, 31, 20), PLUGS, { action: 'switch_off', channel: '0' }),
  entry(at(1, 6), PLUGS, { action: 'switch_on', channel: '0' }),
  // Output 2: off 18:30, on the next morning 07:50.
  entry(at(3, 18, 30), PLUGS, { action: 'switch_off', channel: '2' }),
  entry(at(4, 7, 50), PLUGS, { action: 'switch_on', channel: '2' }),
  // Output 2 again: off 18:00, its button pressed before 06:00 (the power shows it), Node-RED's on at 07:50.
  entry(at(4, 18), PLUGS, { action: 'switch_off', channel: '2' }),
  entry(at(5, 7, 50), PLUGS, { action: 'switch_on', channel: '2' }),
  // Output 1: a member switched it off in the facility view: no automation.
  entry(at(6, 18), PLUGS, { action: 'switch_off', channel: '1' }, byMember),
  // Output 3: off 22:00 on the last day, no power figure for the hour before.
  entry(at(30, 22), PLUGS, { action: 'switch_off', channel: '3' }),
  // Not confirmed, or refused: never a saving.
  entry(at(7, 18), PLUGS, { action: 'switch_off', channel: '1' }, { reason: 'timeout' }),
  entry(
    at(7, 18),
    PLUGS,
    { action: 'switch_off', channel: '1' },
    { decision: 'denied', reason: 'rate_limited' },
  ),
  entry(at(7, 18), 'og2-protel-01', { action: 'unlock' }, { action: 'unlock', reason: 'staff' }),

  // The valve of Protel 201 (H = 51 W/K); the store says 21 °C before.
  entry(at(2, 8, 20), VALVE, { action: 'set_setpoint', value: 16 }),
  entry(at(2, 20, 20), VALVE, { action: 'set_setpoint', value: 8 }),
  entry(at(3, 6, 50), VALVE, { action: 'set_setpoint', value: 21 }),
  entry(at(3, 12), VALVE, { action: 'set_setpoint', value: 23 }, byMember),
  entry(at(3, 14), VALVE, { action: 'set_setpoint', value: 18 }),
  entry(at(3, 16), VALVE, { action: 'set_setpoint', value: 20 }, byMember),
  entry(at(3, 17), VALVE, { action: 'set_setpoint', value: 22 }),
  // Protel 202's valve, whose room has no heat-loss coefficient in the site file.
  entry(at(10, 9), BARE_VALVE, { action: 'set_setpoint', value: 19 }, byMember),
  entry(at(10, 10), BARE_VALVE, { action: 'set_setpoint', value: 17 }),
];

const power = new Map<string, HourFigure[]>([
  [powerKey(PLUGS, '0'), [hour(0, 0, 0), { ts: Date.UTC(2026, 9, 31, 19), value: 6 }]],
  [
    powerKey(PLUGS, '2'),
    [hour(3, 17, 9), hour(3, 18, 4.5), hour(3, 19, 0), hour(4, 17, 12), hour(4, 18, 0), hour(5, 6, 40)],
  ],
  [powerKey(PLUGS, '1'), [hour(6, 17, 30)]],
]);
const setpoints = new Map<string, HourFigure[]>([[VALVE, [hour(2, 7, 21)]]]);

const site: SavingsSite = {
  spaceOf: (device, channel) =>
    device === PLUGS ? `og2-protel-0${Number(channel) + 1}` : device.replace('-heizung', ''),
  heatLossOf: (space) => (space === 'og2-protel-01' ? 51 : undefined),
  locationGPerKwh: 363,
  marketGPerKwh: 380,
  heatingGPerKwh: 267,
};

t.test('the commands the devices confirmed, and who sent them', async (t) => {
  const commands = confirmedCommands(entries);
  t.equal(
    commands.length,
    entries.length - 3,
    'the timeout, the refusal and the unlock are not commands here',
  );
  t.match(commands[0], { device: PLUGS, channel: '0', action: 'switch_off', byAutomation: true });
  t.match(
    commands.find((c) => c.channel === '1'),
    { byAutomation: false },
    "a member's command is no automation's",
  );
  t.same(
    commands.map((c) => c.at),
    [...commands.map((c) => c.at)].sort((a, b) => a - b),
    'oldest first',
  );
});

t.test('switched off: measured power before × hours off, by hand', async (t) => {
  const spans = switchedOffSpans(confirmedCommands(entries), power, NOVEMBER);
  t.same(
    spans.map((s) => [s.channel, s.from, s.to, s.powerBeforeW]),
    [
      // Output 0, switched off Oct 31 20:00: the hour before is 19:00-20:00 at 6 W; the month counts from
      // Nov 1 00:00 to the switch-on at 06:00.
      ['0', at(1, 0), at(1, 6), 6],
      // Output 2, off at 18:30: the hour before the one it was switched in is 17:00-18:00, 9 W (not the
      // 18:00 hour's 4.5 W, half of it already off); on again at 07:50.
      ['2', at(3, 18, 30), at(4, 7, 50), 9],
      // Output 2, off at 18:00: 17:00-18:00 at 12 W; the hour 06:00-07:00 draws 40 W: on at its button.
      ['2', at(4, 18), at(5, 6), 12],
      // Output 3: 22:00 to the month's end, no figure for 21:00-22:00.
      ['3', at(30, 22), NOVEMBER.to, null],
    ],
  );
  // 6 W × 6 h = 36 Wh; 9 W × 13 h 20 min = 120 Wh; 12 W × 12 h = 144 Wh; output 3 unknown.
  t.same(
    spans.map((s) => (s.kwh === null ? null : Math.round(s.kwh * 1e6) / 1e6)),
    [0.036, 0.12, 0.144, null],
  );
});

t.test('set back: the degree-hours model, by hand', async (t) => {
  const spans = setbackSpans(confirmedCommands(entries), setpoints, NOVEMBER);
  t.same(
    spans.map((s) => [s.device, s.from, s.to, s.baselineC, s.setpointC, s.degreeHours]),
    [
      // 21 °C (the store's setpoint in the hour before) set back to 16 at 08:20, to frost protection 8 at
      // 20:20: 12 h × 5 K = 60 K·h.
      [VALVE, at(2, 8, 20), at(2, 20, 20), 21, 16, 60],
      // 8 °C against the same baseline 21 until 06:50 (heated for a booking): 10.5 h × 13 K = 136.5 K·h.
      [VALVE, at(2, 20, 20), at(3, 6, 50), 21, 8, 136.5],
      // A member set 23 at 12:00; the automation 18 at 14:00 (5 K below the member's 23); a member's 20 at
      // 16:00 ends it: 2 h × 5 K = 10 K·h. The automation's 22 at 17:00 raises: no setback.
      [VALVE, at(3, 14), at(3, 16), 23, 18, 10],
      // Protel 202: a member's 19, the automation's 17 at 10:00 on the 10th to the month's end, 20 days 14 h:
      // 494 h × 2 K = 988 K·h.
      [BARE_VALVE, at(10, 10), NOVEMBER.to, 19, 17, 988],
    ],
  );
});

t.test('priced and added up: kWh and CO2e per output and room and in all, by hand', async (t) => {
  const commands = confirmedCommands(entries);
  const savings = automationSavings(
    switchedOffSpans(commands, power, NOVEMBER),
    setbackSpans(commands, setpoints, NOVEMBER),
    site,
  );
  const r = (x: number | null) => (x === null ? null : Math.round(x * 1e6) / 1e6);
  // Electricity: 0.036 + 0.120 + 0.144 = 0.300 kWh; × 363 g = 108.9 g; × 380 g = 114 g.
  // Off hours: 6 + 13 1/3 + 12 + 2 = 33 1/3 h over three outputs and four spans, one without power.
  t.same(
    {
      ...savings.switchedOff,
      kwh: r(savings.switchedOff.kwh),
      co2LocationKg: r(savings.switchedOff.co2LocationKg),
      co2MarketKg: r(savings.switchedOff.co2MarketKg),
      hours: r(savings.switchedOff.hours),
    },
    {
      kwh: 0.3,
      co2LocationKg: 0.1089,
      co2MarketKg: 0.114,
      hours: r(33 + 1 / 3),
      outputs: 3,
      spans: 4,
      spansWithoutPower: 1,
    },
  );
  // Heat: Protel 201, 60 + 136.5 + 10 = 206.5 K·h × 51 W/K = 10,531.5 Wh = 10.5315 kWh; × 267 g/kWh =
  // 2,811.9105 g. Protel 202 adds 988 K·h but no kWh (no heat-loss coefficient).
  t.same(
    { ...savings.setBack, heatKwh: r(savings.setBack.heatKwh), co2Kg: r(savings.setBack.co2Kg) },
    {
      heatKwh: 10.5315,
      co2Kg: 2.81191,
      degreeHours: 206.5 + 988,
      rooms: 2,
      spans: 4,
      roomsWithoutHeatLoss: ['og2-protel-02'],
    },
  );
  const output2 = savings.rows.find((row) => row.kind === 'switched_off' && row.channel === '2');
  // Output 2: 13 1/3 h at 9 W and 12 h at 12 W: (120 + 144) Wh / 25 1/3 h = 10.4210… W.
  t.match(output2, { space: 'og2-protel-03', spans: 2, degreeHours: null });
  t.equal(r(output2?.powerBeforeW ?? null), r(264 / (25 + 1 / 3)));
  t.equal(r(output2?.kwh ?? null), 0.264);
  t.equal(r(output2?.co2Kg ?? null), r(0.264 * 0.363));
  t.match(
    savings.rows.find((row) => row.device === VALVE),
    { kind: 'set_back', space: 'og2-protel-01', heatLossWPerK: 51, degreeHours: 206.5, spans: 3 },
  );
  t.match(
    savings.rows.find((row) => row.device === BARE_VALVE),
    {
      heatLossWPerK: null,
      kwh: null,
      co2Kg: null,
    },
  );
});

t.test('nothing switched by an automation: zero hours, no kWh (not zero kWh)', async (t) => {
  const own: ConfirmedCommand[] = [
    { at: at(3, 18), device: PLUGS, channel: '2', action: 'switch_off', byAutomation: false },
  ];
  const savings = automationSavings(switchedOffSpans(own, power, NOVEMBER), [], site);
  t.same(savings.switchedOff, {
    kwh: null,
    co2LocationKg: null,
    co2MarketKg: null,
    hours: 0,
    outputs: 0,
    spans: 0,
    spansWithoutPower: 0,
  });
  t.same(savings.rows, []);
});
