import path from 'node:path';

/** The demo's site file: "Kaufhaus am Markt", the building the simulation runs (SITE_FILE's default). */
export const DEMO_SITE_FILE = path.resolve(import.meta.dirname, 'kaufhaus.site.yaml');

/**
 * The demo's network (`wesprint start --sites N`, `wesprint simulate --sites N`): the department store and
 * three smaller houses, one site file each, read by name (the department store first, the home site).
 */
export const DEMO_NETWORK_DIR = path.resolve(import.meta.dirname, 'network');
