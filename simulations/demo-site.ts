import path from 'node:path';

/** The demo's site file: "Kaufhaus am Markt", the building the simulation runs (SITE_FILE's default). */
export const DEMO_SITE_FILE = path.resolve(import.meta.dirname, 'kaufhaus.site.yaml');
