import net from 'node:net';

/**
 * A device's way to its broker: a TCP pass-through on a free loopback port that can swallow what the broker
 * sends the device (`swallow`: a PUBACK lost on the way) and turn the device away (`away`: its connections
 * are closed as soon as they are made; `cut()` closes those open now). What MQTT.js hides, a PUBACK that
 * never arrived, with MQTT.js itself as the device.
 */
export interface DeviceLine {
  readonly port: number;
  swallow: boolean;
  away: boolean;
  cut(): void;
}

export async function deviceLine(
  t: { teardown(fn: () => void | Promise<void>): void },
  brokerPort: number,
): Promise<DeviceLine> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((device) => {
    if (line.away) {
      device.destroy();
      return;
    }
    const broker = net.connect(brokerPort, '127.0.0.1');
    sockets.add(device);
    const end = () => {
      device.destroy();
      broker.destroy();
      sockets.delete(device);
    };
    device.on('data', (d) => broker.write(d));
    broker.on('data', (d) => {
      if (!line.swallow) device.write(d);
    });
    for (const socket of [device, broker]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const line: DeviceLine = {
    port: (server.address() as net.AddressInfo).port,
    swallow: false,
    away: false,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        line.cut();
        server.close(() => resolve());
      }),
  );
  return line;
}
