import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ApiContext } from './context.ts';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Stands in for the dashboard until it exists, so the root URL says where to go. */
export const homePage: FastifyPluginAsyncTypebox<ApiContext> = async (app, { site }) => {
  const name = escapeHtml(site.site.name);
  const page = `<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>WeSprint OS – ${name}</title></head>
<body>
<h1>WeSprint OS – ${name}</h1>
<p>Das Dashboard folgt. / The dashboard is coming.</p>
<ul>
<li><a href="/docs">API-Dokumentation / API documentation</a></li>
<li><a href="/api/devices">Geräte / Devices</a></li>
<li><a href="/api/site">Gebäude / Site</a></li>
</ul>
</body>
</html>
`;
  app.get(
    '/',
    {
      config: { access: 'public' },
      schema: {
        tags: ['dashboard'],
        summary: 'Placeholder page until the dashboard exists',
        produces: ['text/html'],
        response: { 200: Type.String({ description: 'HTML page' }) },
      },
    },
    async (_request, reply) => reply.type('text/html; charset=utf-8').send(page),
  );
};
