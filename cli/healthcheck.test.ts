import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import { writeHeartbeat } from './healthcheck.ts';

t.test(
  'the heartbeat reports the live heap: what the last full collection left, not the garbage',
  async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-beat-'));
    t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    v8.setFlagsFromString('--expose-gc');
    const fullCollection = vm.runInNewContext('gc') as () => void;
    const journal = { committed: 0, stored: 0 };
    const liveKb = () => {
      writeHeartbeat(dataDir, { connected: true, spooling: false, journal });
      const beat = JSON.parse(fs.readFileSync(path.join(dataDir, 'gateway.heartbeat.json'), 'utf8'));
      return beat.memory.liveHeapKb as number | undefined;
    };
    liveKb();
    // ~40 MB of live objects through a full collection, then let go of and collected again.
    let held: number[][] | undefined = Array.from({ length: 5000 }, (_, i) =>
      Array.from({ length: 1000 }, () => i + 0.5),
    );
    fullCollection();
    const withHeld = liveKb();
    t.ok(withHeld !== undefined, 'known once a full collection ran');
    t.equal(held.length, 5000, 'held through it');
    held = undefined;
    fullCollection();
    const without = liveKb() as number;
    t.ok(
      (withHeld as number) - without > 30_000,
      `the held 40 MB are gone from it (${withHeld} -> ${without} kB)`,
    );
  },
);
