import { parseArgs } from 'node:util';
import { publishLoad, syntheticSite } from '../load-mode/synthetic-buildings.ts';
import type { Settings } from './settings.ts';

/** `wesprint simulate --load`: many synthetic buildings publishing at a target rate, for load tests. */
export async function runLoad(args: string[], settings: Settings): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      load: { type: 'boolean' },
      buildings: { type: 'string', default: '10' },
      devices: { type: 'string', default: '100' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '30' },
      qos: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const number = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const qos = Number(values.qos);
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error('--qos must be 0, 1 or 2');
  const site = syntheticSite(number('buildings'), number('devices'));
  const mqttUrl = settings.mqttUrl ?? `mqtt://127.0.0.1:${settings.mqttPort}`;
  const credentials =
    settings.mqttUsername && settings.mqttPassword
      ? { username: settings.mqttUsername, password: settings.mqttPassword }
      : undefined;
  console.log(
    `load: ${site.devices.length} devices in ${number('buildings')} buildings -> ${mqttUrl} at ${number('rate')} msg/s for ${number('duration')} s`,
  );
  const report = await publishLoad({
    mqttUrl,
    site,
    credentials,
    ratePerSecond: number('rate'),
    durationS: number('duration'),
    qos,
  });
  console.log(
    JSON.stringify({
      sent: report.sent,
      completed: report.completed,
      failed: report.failed,
      achievedRate: Math.round(report.achievedRate),
      perQuantity: report.perQuantity,
    }),
  );
  return report.failed > 0 ? 1 : 0;
}
