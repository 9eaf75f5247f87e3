import { execFile } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { connect, inbox, startTestBroker, subscribe } from '../test-support/broker.ts';
import { requireComponent } from '../test-support/component.ts';

/** Real Mosquitto command-line clients against the building broker, as a device's firmware would connect. */

const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

t.test('Mosquitto clients with device credentials', async (t) => {
  const available = fs.existsSync(PUB) && fs.existsSync(SUB);
  if (!requireComponent(t, available, 'Mosquitto clients', 'apt-get install -y mosquitto-clients')) return;

  const broker = await startTestBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const server = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv311'];
  const lock = [...server, '-u', 'lock-101', '-P', 'lock-secret', '-i', 'nuki-3A4B5C6D'];

  const gateway = await connect(t, url, { username: 'wesprint-gateway', password: 'gateway-secret' });
  const seen = inbox(gateway);
  await subscribe(gateway, ['nuki/+/state', 'zigbee2mqtt/+'], 1);

  await t.test('a Nuki lock publishes its state in the vendor format', async (t) => {
    // Nuki MQTT API: `state` carries the numeric lock state, 1 = locked.
    const ok = await run(PUB, [...lock, '-q', '1', '-t', 'nuki/3A4B5C6D/state', '-m', '1']);
    t.equal(ok.code, 0, ok.output);
    const m = await seen.waitFor((m) => m.topic === 'nuki/3A4B5C6D/state');
    t.equal(m.payload, '1');
  });

  await t.test("a lock publishing another device's topic is refused; the message goes nowhere", async (t) => {
    const spoof = await run(PUB, [
      ...lock,
      '-q',
      '1',
      '-t',
      'zigbee2mqtt/desk-1',
      '-m',
      '{"occupancy":true,"battery":100,"linkquality":120}',
    ]);
    t.equal(spoof.code, 0, 'acknowledged and dropped, not a disconnect');
    const marker = await run(PUB, [...lock, '-q', '1', '-t', 'nuki/3A4B5C6D/state', '-m', '3']);
    t.equal(marker.code, 0, marker.output);
    await seen.waitFor((m) => m.topic === 'nuki/3A4B5C6D/state' && m.payload === '3');
    t.notOk(
      seen.messages.some((m) => m.topic === 'zigbee2mqtt/desk-1'),
      'the spoofed reading never reached the gateway',
    );
    t.ok(broker.stats().publishesRefused >= 1);
  });

  await t.test('a Zigbee2MQTT sensor publishes its JSON state', async (t) => {
    const payload = '{"battery":100,"illuminance":12,"occupancy":true,"linkquality":120,"voltage":3000}';
    const args = [...server, '-u', 'desk-1-occupancy', '-P', 'desk-1-secret', '-q', '1'];
    const ok = await run(PUB, [...args, '-t', 'zigbee2mqtt/desk-1', '-m', payload]);
    t.equal(ok.code, 0, ok.output);
    const m = await seen.waitFor((m) => m.topic === 'zigbee2mqtt/desk-1');
    t.equal(m.payload, payload);
  });

  await t.test('wrong password and a too-wide subscription are refused', async (t) => {
    const bad = await run(PUB, [
      ...server,
      '-u',
      'lock-101',
      '-P',
      'wrong',
      '-t',
      'nuki/3A4B5C6D/state',
      '-m',
      '1',
    ]);
    t.not(bad.code, 0, 'mosquitto_pub fails');
    t.match(bad.output, /refused/i, bad.output);
    const sub = await run(SUB, [...lock, '-t', '#', '-C', '1', '-W', '20']);
    // Mosquitto 2.0 clients read SUBACK 0x80, print this and quit (exit code 0).
    t.match(sub.output, /All subscription requests were denied/, 'mosquitto_sub saw SUBACK 0x80');
  });
});
