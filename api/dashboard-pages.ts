import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { declareScopeAccess } from './auth.ts';

/** Where `npm run build` puts the dashboard (dashboard/vite.config.ts). */
export const DEFAULT_DASHBOARD_DIR = path.resolve(import.meta.dirname, '../dashboard/dist');

/** The paths of the dashboard's pages; the browser side keeps the same list (dashboard/src/pages.ts). */
export const DASHBOARD_PAGES = [
  '/',
  '/lobby',
  '/facility',
  '/board/report',
  '/network/report',
  '/board/common-good',
  '/events',
  '/key',
] as const;

export interface DashboardPagesOptions {
  /** The built dashboard (DASHBOARD_DIR; default dashboard/dist). */
  dir?: string;
}

/**
 * The pages carry no data of their own: they are public, and every figure on them comes from the
 * authenticated API. The policy below keeps the pages to this origin (scripts, sockets, images), so
 * injected markup could not load or send anything elsewhere.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // Svelte's style: directives and Chart.js set inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function notBuiltPage(dir: string): string {
  return `<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>WeSprint OS</title></head>
<body>
<h1>WeSprint OS</h1>
<p>Das Dashboard ist noch nicht gebaut: <code>npm run build</code> (oder <code>npm start</code>, das es baut).</p>
<p>The dashboard is not built yet: run <code>npm run build</code> (<code>npm start</code> builds it too).</p>
<p>Expected in ${dir.replace(/[&<>"']/g, '')}. <a href="/docs">API documentation</a></p>
</body></html>
`;
}

/**
 * The Svelte dashboard: the same index.html at every page path (the page picks itself by path), the hashed
 * assets with a year's caching, the rest of dist (manifest, service worker, icons) as plain files.
 */
export const dashboardPages: FastifyPluginAsyncTypebox<DashboardPagesOptions> = async (app, options) => {
  const dir = path.resolve(options.dir ?? DEFAULT_DASHBOARD_DIR);
  const indexFile = path.join(dir, 'index.html');
  const built = fs.existsSync(indexFile);
  // Read once: the build does not change under a running server.
  const index = built ? fs.readFileSync(indexFile, 'utf8') : notBuiltPage(dir);

  for (const url of DASHBOARD_PAGES) {
    app.get(
      url,
      {
        config: { access: 'public' },
        schema: {
          tags: ['dashboard'],
          summary: `Dashboard page ${url} (data comes from the API, after sign-in or with a lobby token)`,
          produces: ['text/html'],
          querystring: Type.Object({
            token: Type.Optional(
              Type.String({ maxLength: 128, description: 'lobby-screen token (lobby page)' }),
            ),
            lang: Type.Optional(Type.Union([Type.Literal('de'), Type.Literal('en')])),
            period: Type.Optional(
              Type.String({ maxLength: 16, description: 'report period (board report)' }),
            ),
          }),
          response: { 200: Type.String({ description: 'HTML page' }), 503: Type.String() },
        },
      },
      async (_request, reply) =>
        reply
          .code(built ? 200 : 503)
          .header('cache-control', 'no-cache')
          .header('content-security-policy', CONTENT_SECURITY_POLICY)
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer')
          .type('text/html; charset=utf-8')
          .send(index),
    );
  }

  if (!built) return;
  await app.register(async (files) => {
    declareScopeAccess(files, 'public');
    await files.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      // One route per file present now: no catch-all that would swallow unknown /api paths.
      wildcard: false,
      index: false,
      // Ours below: hashed assets for a year, the rest revalidated.
      cacheControl: false,
      setHeaders(response, filePath) {
        const immutable = filePath.startsWith(path.join(dir, 'assets') + path.sep);
        response.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
        response.setHeader('x-content-type-options', 'nosniff');
      },
    });
  });
};
