import type { SiteConfig } from '../../site/site.ts';
import { SimulatedBuilding } from '../simulated-building.ts';
import { type FamilyQuantities, seamCounters, siteMeters } from './meters.ts';
import { DEFAULT_STEP_MS } from './span.ts';

/**
 * The plan of a history: where it ends, how far back it reaches, at which instants the devices report,
 * and each meter's counter at its end. It is fixed before anything is written (a first `wesprint start`
 * plans it before the live meters start from its end counters) and kept in the marker file, so that an
 * interrupted history goes on with the same plan.
 */

export interface BackfillPlan {
  version: 1;
  seed: string;
  /** The history ends here (exclusive): where the live simulator starts. */
  end: number;
  spanMs: number;
  stepMs: number;
  /** Each meter's counter at `end`, Wh: the live meters start from these. */
  endCounters: Record<string, number>;
}

export function planBackfill(
  site: SiteConfig,
  profiles: FamilyQuantities,
  options: { spanMs: number; stepMs?: number; end?: number; seed?: string },
): BackfillPlan {
  const seed = options.seed ?? 'kaufhaus';
  return {
    version: 1,
    seed,
    end: options.end ?? Date.now(),
    spanMs: options.spanMs,
    stepMs: options.stepMs ?? DEFAULT_STEP_MS,
    endCounters: seamCounters(new SimulatedBuilding(site, seed), siteMeters(site, profiles), options.spanMs),
  };
}

/** The reading instants of a plan: whole steps (epoch-aligned) within [end − span, end). */
export function historyTimes(plan: Pick<BackfillPlan, 'end' | 'spanMs' | 'stepMs'>): number[] {
  const times: number[] = [];
  for (
    let t = Math.ceil((plan.end - plan.spanMs) / plan.stepMs) * plan.stepMs;
    t < plan.end;
    t += plan.stepMs
  )
    times.push(t);
  return times;
}
