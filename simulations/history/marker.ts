import fs from 'node:fs';
import path from 'node:path';
import { BackfillError } from './backfill-error.ts';
import type { BackfillPlan } from './plan.ts';

/**
 * The marker file, DATA_DIR/backfill.json: the plan and how far the history got. A second run adds
 * nothing, an interrupted one goes on from the last finished day with the same plan. It is written whole
 * into a temporary file and renamed, so that a run stopped at any moment leaves the last one readable.
 */

export interface BackfillMarker {
  plan: BackfillPlan;
  /** Readings are written (and rolled up) up to here. */
  doneUntil: number;
  bookingsDone: boolean;
  finishedAt: number | null;
}

/**
 * The home site's marker is DATA_DIR/backfill.json, as a single building's always was; in a network
 * (SITES_DIR) every other house has its history and its marker of its own, backfill@<site>.json.
 */
export function markerFile(dataDir: string, house?: string): string {
  return path.join(dataDir, house === undefined ? 'backfill.json' : `backfill@${house}.json`);
}

export function readMarker(dataDir: string, house?: string): BackfillMarker | undefined {
  const file = markerFile(dataDir, house);
  if (!fs.existsSync(file)) return undefined;
  try {
    const marker = JSON.parse(fs.readFileSync(file, 'utf8')) as BackfillMarker;
    if (marker?.plan?.version !== 1) throw new Error('not a backfill plan');
    return marker;
  } catch (err) {
    throw new BackfillError(
      `${file} is not readable (${(err as Error).message}); remove it to start the history anew`,
    );
  }
}

export function writeMarker(dataDir: string, marker: BackfillMarker, house?: string): void {
  const file = markerFile(dataDir, house);
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(marker, null, 2)}\n`);
  fs.renameSync(tmp, file);
}
