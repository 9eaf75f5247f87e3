import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';

/**
 * A bare aedes (npm aedes, its default in-memory persistence, no accounts, no ACLs, no journal) on a loopback
 * port: the benches' baseline broker. In the bench's process (reference A, bench/references.ts), or as a
 * process of its own (`node --import tsx bench/bare-broker.ts`, which prints `bare broker mqtt://…`), as the
 * live bench runs it beside `wesprint start`'s process.
 */
export interface BareBroker {
  url: string;
  close(): Promise<void>;
}

export async function startBareAedes(): Promise<BareBroker> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

/** The script of the process of its own: runs until killed. */
export const BARE_BROKER_SCRIPT = fileURLToPath(import.meta.url);

if (process.argv[1] === BARE_BROKER_SCRIPT) {
  const broker = await startBareAedes();
  console.log(`bare broker ${broker.url}`);
  process.on('SIGTERM', () => void broker.close().then(() => process.exit(0)));
}
