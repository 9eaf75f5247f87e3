import mqtt from 'mqtt';
import type { Quantity } from '../building/quantities.ts';
import { loadMessage, syntheticSite } from '../load-mode/synthetic-buildings.ts';

/**
 * The benchmark's publisher, in a process of its own (forked by bench/ingest.ts) so that producing the
 * load does not take event-loop time from the broker and gateway it measures: on two cores the broker
 * (with its subscriber or the gateway, as `wesprint start` runs them) gets one, the publisher the other.
 *
 * The messages are the load mode's vendor payloads, made before the clock starts. One connection, QoS 1,
 * at most `window` messages unacknowledged: the same publisher for every measurement.
 *
 * Protocol over the IPC channel:
 *   parent -> { kind: 'prepare', ... }         child -> { kind: 'ready', warmup, timed }
 *   parent -> { kind: 'go', phase }            child -> { kind: 'sent', phase, acked, failed }
 *   parent -> { kind: 'stop' }                 (the child disconnects and exits)
 */

export interface PrepareMessage {
  kind: 'prepare';
  mqttUrl: string;
  buildings: number;
  devicesPerBuilding: number;
  /** Messages in the timed phase. */
  messages: number;
  window: number;
  clientId: string;
}

export type Phase = 'warmup' | 'timed';

/** What one phase carries once decoded: what the store must hold afterwards. */
export interface PhaseAccount {
  messages: number;
  readings: number;
  perDeviceQuantity: Record<string, Partial<Record<Quantity, number>>>;
}

export type ParentMessage = PrepareMessage | { kind: 'go'; phase: Phase } | { kind: 'stop' };
export type ChildMessage =
  | { kind: 'ready'; warmup: PhaseAccount; timed: PhaseAccount }
  | { kind: 'sent'; phase: Phase; acked: number; failed: number }
  | { kind: 'error'; message: string };

interface Outgoing {
  topic: string;
  payload: string | Buffer;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/**
 * Warm-up: one message per device (each device's first appearance makes the gateway announce it online,
 * a one-off that is not steady-state ingest). Timed: `messages` more, devices taken in turn, so one
 * device's messages are ~`devices` messages apart and never share a millisecond (the store's key is
 * device, quantity and time).
 */
function prepareMessages(p: PrepareMessage): {
  phases: Record<Phase, Outgoing[]>;
  accounts: Record<Phase, PhaseAccount>;
} {
  const site = syntheticSite(p.buildings, p.devicesPerBuilding);
  const devices = site.devices;
  const sequence = new Map<string, number>();
  const now = Date.now();
  const make = (count: number): { out: Outgoing[]; account: PhaseAccount } => {
    const out: Outgoing[] = [];
    const account: PhaseAccount = { messages: count, readings: 0, perDeviceQuantity: {} };
    for (let i = 0; i < count; i++) {
      const device = devices[i % devices.length];
      if (!device) throw new Error('synthetic site has no devices');
      const seq = sequence.get(device.id) ?? 0;
      sequence.set(device.id, seq + 1);
      const m = loadMessage(device, seq, now);
      out.push({ topic: m.topic, payload: m.payload });
      const q = account.perDeviceQuantity[m.device] ?? {};
      account.perDeviceQuantity[m.device] = q;
      for (const quantity of m.quantities) {
        q[quantity] = (q[quantity] ?? 0) + 1;
        account.readings++;
      }
    }
    return { out, account };
  };
  const warmup = make(devices.length);
  const timed = make(p.messages);
  return {
    phases: { warmup: warmup.out, timed: timed.out },
    accounts: { warmup: warmup.account, timed: timed.account },
  };
}

async function main(): Promise<void> {
  let client: mqtt.MqttClient | undefined;
  let phases: Record<Phase, Outgoing[]> | undefined;
  let window = 1;

  const publish = (phase: Phase, messages: Outgoing[]) => {
    const c = client as mqtt.MqttClient;
    let next = 0;
    let inflight = 0;
    let acked = 0;
    let failed = 0;
    const pump = () => {
      while (inflight < window && next < messages.length) {
        const m = messages[next++] as Outgoing;
        inflight++;
        c.publish(m.topic, m.payload, { qos: 1, retain: false }, settle);
      }
    };
    function settle(err?: Error) {
      inflight--;
      if (err) failed++;
      else acked++;
      if (acked + failed === messages.length) send({ kind: 'sent', phase, acked, failed });
      else pump();
    }
    if (messages.length === 0) send({ kind: 'sent', phase, acked, failed });
    else pump();
  };

  process.on('message', (raw: ParentMessage) => {
    (async () => {
      switch (raw.kind) {
        case 'prepare': {
          window = raw.window;
          const prepared = prepareMessages(raw);
          phases = prepared.phases;
          client = await mqtt.connectAsync(raw.mqttUrl, {
            clientId: raw.clientId,
            protocolVersion: 4,
            clean: true,
            reconnectPeriod: 0,
          });
          send({ kind: 'ready', warmup: prepared.accounts.warmup, timed: prepared.accounts.timed });
          return;
        }
        case 'go':
          if (!client || !phases) throw new Error('go before prepare');
          publish(raw.phase, phases[raw.phase]);
          return;
        case 'stop':
          await client?.endAsync();
          process.disconnect?.();
          return;
      }
    })().catch((err: Error) => send({ kind: 'error', message: err.message }));
  });
  process.on('disconnect', () => {
    client?.end(true);
  });
}

main().catch((err: Error) => {
  send({ kind: 'error', message: err.message });
  process.exitCode = 1;
});
