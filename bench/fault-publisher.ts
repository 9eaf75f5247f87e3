import mqtt from 'mqtt';
import type { DeviceConfig } from '../site/site.ts';
import { faultPayload, timedMessage, WARMUP_COUNTER } from './fault-ledger.ts';

/**
 * The faults bench's devices (bench/faults.ts), in a process of their own: one MQTT.js connection
 * speaking for every device of the lab broker, QoS 1, at most `window` messages unacknowledged, and
 * optionally no faster than `rate` messages per second.
 *
 * Like a device's MQTT stack it rides out a broker that dies: it reconnects every 250 ms and sends again
 * every message the broker has not acknowledged (MQTT.js's outgoing store) with the DUP flag set, as a
 * device's retransmission is (MQTT 3.1.1 §3.3.1.1; MQTT.js by itself resends with DUP 0, so the store below
 * marks what it held when a connection closed); what it publishes meanwhile waits in its queue. It counts a message acknowledged when its PUBACK arrives, whichever
 * connection brought it.
 *
 * Protocol over the IPC channel:
 *   parent -> { kind: 'prepare', ... }      child -> { kind: 'ready' }
 *   parent -> { kind: 'warmup', devices }   child -> { kind: 'warmed' }   (counter 1 of those devices, acked)
 *   parent -> { kind: 'go' }                child -> { kind: 'progress', sent, acked } every 250 ms, then
 *                                           child -> { kind: 'done', sent, unacked }
 *   parent -> { kind: 'report' }            child -> { kind: 'state', sent, unacked }
 *   parent -> { kind: 'stop' }              (the child disconnects and exits)
 * `sent`: messages 0 … sent-1 of the timed phase were handed to the connection; `unacked`: those of them
 * without a PUBACK.
 */

export interface FaultPrepare {
  kind: 'prepare';
  mqttUrl: string;
  devices: Pick<DeviceConfig, 'id' | 'profile' | 'topic'>[];
  messages: number;
  window: number;
  /** Messages per second at most (0: as fast as the window allows). */
  rate: number;
  clientId: string;
}

export type FaultParentMessage =
  | FaultPrepare
  | { kind: 'warmup'; devices: number[] }
  | { kind: 'go' }
  | { kind: 'report' }
  | { kind: 'stop' };

export type FaultChildMessage =
  | { kind: 'ready' }
  | { kind: 'warmed' }
  | { kind: 'progress'; sent: number; acked: number }
  | { kind: 'done'; sent: number; unacked: number[]; resent: number[] }
  | { kind: 'state'; sent: number; unacked: number[]; resent: number[] }
  | { kind: 'error'; message: string };

/**
 * MQTT.js's outgoing store, except that every message it holds when a connection closes is resent with DUP 1
 * (it was handed to the closed connection, or was about to be: a DUP on a first transmission is allowed, and
 * the broker must then treat it as new).
 */
class RetransmittingStore extends mqtt.Store {
  private readonly held = new Map<number, { dup?: boolean; topic?: string; payload?: unknown }>();
  override put(packet: Parameters<mqtt.Store['put']>[0], cb: () => void): this {
    if (packet.messageId !== undefined) this.held.set(packet.messageId, packet as { dup?: boolean });
    return super.put(packet, cb);
  }
  override del(packet: Parameters<mqtt.Store['del']>[0], cb: Parameters<mqtt.Store['del']>[1]): this {
    if (packet.messageId !== undefined) this.held.delete(packet.messageId);
    return super.del(packet, cb);
  }
  /** Marks what it holds DUP; returns the topic and payload of those not marked yet. */
  markRetransmissions(): string[] {
    const marked: string[] = [];
    for (const p of this.held.values()) {
      if (p.dup) continue;
      p.dup = true;
      marked.push(`${p.topic}\u0000${String(p.payload)}`);
    }
    return marked;
  }
}

function send(message: FaultChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  let client: mqtt.MqttClient | undefined;
  let prepared: FaultPrepare | undefined;
  let messages: { topic: string; payload: string }[] = [];
  let acked: Uint8Array = new Uint8Array(0);
  let sent = 0;
  let ackedCount = 0;
  /** Timed messages marked DUP for resending after a connection closed (their indices). */
  const resent: number[] = [];
  let indexOf = new Map<string, number>();

  const unacked = () => {
    const out: number[] = [];
    for (let i = 0; i < sent; i++) if (acked[i] === 0) out.push(i);
    return out;
  };

  const publishTimed = (p: FaultPrepare, c: mqtt.MqttClient) => {
    let inflight = 0;
    const started = Date.now();
    const progress = setInterval(() => send({ kind: 'progress', sent, acked: ackedCount }), 250);
    let finished = false;
    const pump = () => {
      const allowed = p.rate > 0 ? Math.floor(((Date.now() - started) / 1000) * p.rate) + 1 : messages.length;
      while (inflight < p.window && sent < messages.length && sent < allowed) {
        const i = sent++;
        const m = messages[i] as { topic: string; payload: string };
        inflight++;
        c.publish(m.topic, m.payload, { qos: 1, retain: false }, (err) => {
          inflight--;
          // An error is a message given up on (the client was ended): it stays unacknowledged.
          if (!err && acked[i] === 0) {
            acked[i] = 1;
            ackedCount++;
          }
          if (!finished && ackedCount === messages.length) {
            finished = true;
            clearInterval(progress);
            clearInterval(ticker);
            send({ kind: 'progress', sent, acked: ackedCount });
            send({ kind: 'done', sent, unacked: [], resent });
          } else {
            pump();
          }
        });
      }
    };
    // With a rate, the clock lets more out; without, the PUBACKs do (the ticker only costs a check).
    const ticker = setInterval(pump, p.rate > 0 ? 10 : 1000);
    pump();
  };

  process.on('message', (raw: FaultParentMessage) => {
    (async () => {
      switch (raw.kind) {
        case 'prepare': {
          prepared = raw;
          const now = Date.now();
          messages = [];
          indexOf = new Map();
          for (let i = 0; i < raw.messages; i++) {
            const { device, counter } = timedMessage(i, raw.devices.length);
            const m = faultPayload(raw.devices[device] as FaultPrepare['devices'][number], counter, now);
            messages.push(m);
            indexOf.set(`${m.topic}\u0000${m.payload}`, i);
          }
          acked = new Uint8Array(raw.messages);
          const outgoing = new RetransmittingStore();
          client = await mqtt.connectAsync(raw.mqttUrl, {
            outgoingStore: outgoing,
            clientId: raw.clientId,
            protocolVersion: 4,
            clean: true,
            reconnectPeriod: 250,
            connectTimeout: 5000,
          });
          // Reconnecting is what it does; an error event must not end the process.
          client.on('error', () => {});
          client.on('close', () => {
            for (const key of outgoing.markRetransmissions()) {
              const i = indexOf.get(key);
              if (i !== undefined) resent.push(i);
            }
          });
          send({ kind: 'ready' });
          return;
        }
        case 'warmup': {
          const c = client;
          const p = prepared;
          if (!c || !p) throw new Error('warmup before prepare');
          const now = Date.now();
          await Promise.all(
            raw.devices.map((d) => {
              const m = faultPayload(p.devices[d] as FaultPrepare['devices'][number], WARMUP_COUNTER, now);
              return c.publishAsync(m.topic, m.payload, { qos: 1, retain: false });
            }),
          );
          send({ kind: 'warmed' });
          return;
        }
        case 'go':
          if (!client || !prepared) throw new Error('go before prepare');
          publishTimed(prepared, client);
          return;
        case 'report':
          send({ kind: 'state', sent, unacked: unacked(), resent });
          return;
        case 'stop':
          await client?.endAsync(true);
          process.exit(0);
      }
    })().catch((err: Error) => send({ kind: 'error', message: err.message }));
  });
  // The bench went away: so do its devices.
  process.on('disconnect', () => process.exit(0));
}

main().catch((err: Error) => {
  send({ kind: 'error', message: err.message });
  process.exitCode = 1;
});
