import { loadNetwork, loadSite, siteFilesIn } from '../site/load.ts';
import { asNetwork, type SiteNetwork } from '../site/network.ts';
import type { Settings } from './settings.ts';

/** The installation's sites: SITE_FILE's one, or SITES_DIR's network (its first `--sites N`). */
export function loadSites(settings: Pick<Settings, 'siteFile' | 'sitesDir' | 'sitesLimit'>): SiteNetwork {
  if (settings.sitesDir === undefined) return asNetwork(loadSite(settings.siteFile));
  const files = siteFilesIn(settings.sitesDir).slice(0, settings.sitesLimit ?? Number.POSITIVE_INFINITY);
  return loadNetwork(files, settings.sitesDir);
}
