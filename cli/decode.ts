import { decodeMessage, loadProfiles } from '../device-profiles/registry.ts';
import { channelSpace } from '../site/channels.ts';
import { loadSite } from '../site/load.ts';
import type { SiteConfig } from '../site/site.ts';

/**
 * `wesprint decode`: what would the gateway make of this message? Prints one JSON line per reading, or a
 * clear reason and exit code 1 when the message is not one a known device family sends.
 */
export async function runDecode(args: { topic?: string; payload?: string; site?: string }): Promise<number> {
  if (args.topic === undefined || args.payload === undefined) {
    console.error(
      'wesprint decode: --topic and --payload are required (use --payload - to read it from stdin)',
    );
    return 2;
  }
  const payload = args.payload === '-' ? await readStdin() : Buffer.from(args.payload, 'utf8');
  const profiles = await loadProfiles();
  let devicesByTopic: Map<string, { id: string; profile: string }> | undefined;
  let site: SiteConfig | undefined;
  if (args.site) {
    site = loadSite(args.site);
    devicesByTopic = new Map(site.devices.map((d) => [d.topic, { id: d.id, profile: d.profile }]));
  }
  const decoded = decodeMessage(profiles, args.topic, payload, Date.now(), devicesByTopic);
  if (!decoded.ok) {
    console.error(`wesprint decode: ${decoded.reason}: ${decoded.detail}`);
    return 1;
  }
  const { readings, availability, commandResult } = decoded.result;
  const device = site?.devices.find((d) => d.id === decoded.device);
  for (const r of readings) {
    console.log(
      JSON.stringify({
        device: decoded.device,
        channel: r.channel,
        // With a site file: where the gateway would file it (a channel may have a space of its own).
        ...(device ? { space: channelSpace(device, r.channel) } : {}),
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        ts: r.ts,
      }),
    );
  }
  if (availability) console.error(`(${decoded.device} says it is ${availability})`);
  if (commandResult)
    console.error(`(command result: ${commandResult.ok ? 'ok' : 'failed'}: ${commandResult.detail})`);
  if (readings.length === 0 && !availability && !commandResult) {
    console.error(`wesprint decode: ${decoded.profile.id} understood the message but it carries no reading`);
  }
  return 0;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
