import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface UiSettings {
  /** Where the page is served (`ui.path`, default `/`). */
  path: string;
  /** The DICOMweb base the page calls (the default tenant's). */
  basePath: string;
  /** Whether that base asks for credentials: the page then offers to take a capability or a bearer token. */
  authRequired: boolean;
}

// ui/ sits two levels above both src/routes/ and dist/routes/.
const UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');

/**
 * Only this origin, nothing inline: the page asks no other host for anything (no CDN, no font), and an injected
 * script could not run. Images may be blob: URLs (fetched with a bearer token).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const asset = (body: Buffer, type: string): Asset => ({
  body,
  type,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
});

/**
 * The study browser (`ui.enabled`): one page at `ui.path` and its script and style under `{ui.path}_ui/`, static,
 * calling the public DICOMweb API like any viewer. Read once at start (a few kB); served with an ETag.
 */
export function registerUiRoutes(app: FastifyInstance, settings: UiSettings): void {
  const escape = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const prefix = settings.path.replace(/\/+$/, '');
  const page = readFileSync(path.join(UI_DIR, 'index.html'), 'utf8')
    .replaceAll('{{BASE}}', escape(settings.basePath))
    .replaceAll('{{AUTH}}', settings.authRequired ? 'required' : 'none')
    .replaceAll('{{ASSETS}}', escape(`${prefix}/_ui`));
  const assets = new Map<string, Asset>([
    ['app.js', asset(readFileSync(path.join(UI_DIR, 'app.js')), 'text/javascript; charset=utf-8')],
    ['app.css', asset(readFileSync(path.join(UI_DIR, 'app.css')), 'text/css; charset=utf-8')],
    ['icon.svg', asset(readFileSync(path.join(UI_DIR, 'icon.svg')), 'image/svg+xml')],
  ]);
  const index = asset(Buffer.from(page), 'text/html; charset=utf-8');
  const send = (request: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply => {
    void reply.headers({
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
      etag: a.etag,
    });
    if (request.headers['if-none-match'] === a.etag) return reply.status(304).send();
    return reply.type(a.type).send(a.body);
  };
  app.get(settings.path, async (request, reply) => send(request, reply, index));
  // Browsers ask for /favicon.ico whatever the page says: answered, so that no request of the page fails.
  if (prefix === '')
    app.get('/favicon.ico', async (request, reply) => send(request, reply, assets.get('icon.svg') as Asset));
  app.get<{ Params: { file: string } }>(`${prefix}/_ui/:file`, async (request, reply) => {
    const a = assets.get(request.params.file);
    if (!a) return reply.callNotFound();
    return send(request, reply, a);
  });
}
