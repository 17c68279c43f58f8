import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { frameNumbers, retrieveScope } from './path-params.js';
import { parseRenderRequest, type RawQuery } from './rendered-params.js';
import { addWarnings, streamResponse, multipartBody, newBoundary, type Part } from './multipart-stream.js';
import type { RenderService } from '../services/render-service.js';
import { etagOf, type RenderAnswer } from '../services/render-answer.js';
import type { RetrieveScope } from '../archive/archive.js';
import type { PublicUrl } from './public-url.js';

export interface RenderedRouteOptions {
  service: RenderService;
  publicUrl: PublicUrl;
  /** JPEG quality when the request names none. */
  defaultQuality: number;
}

interface Params {
  study: string;
  series?: string;
  instance?: string;
  frames?: string;
}

type Kind = 'rendered' | 'thumbnail';

/** Rendered images describe one SOP instance, whose content never changes; they hold patient data, so private. */
const CACHE_CONTROL = 'private, max-age=86400';

/** A frame list (PS3.18 §8.3.5.1.2), sorted ascending without repeats, as the source statement does. */
const frameList = (text: string): number[] => [...new Set(frameNumbers(text))].sort((a, b) => a - b);

function ifNoneMatch(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  return (
    header !== undefined &&
    (header.trim() === '*' ||
      header
        .split(',')
        .map((v) => v.trim().replace(/^W\//, ''))
        .includes(etag))
  );
}

async function send(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: RenderAnswer,
  warnings: string[],
  base: string,
  study: string,
): Promise<void> {
  if (answer.kind === 'multipart') {
    const boundary = newBoundary();
    const parts = (async function* (): AsyncGenerator<Part> {
      for await (const p of answer.parts) {
        const headers: Record<string, string> = { 'Content-Type': p.mediaType };
        if (p.source)
          headers['Content-Location'] =
            `${base}/studies/${study}/series/${p.source.series}/instances/${p.source.instance}/frames/${p.source.frame}/rendered`;
        yield { headers, body: p.body };
      }
    })();
    await streamResponse(
      reply,
      {
        status: answer.status,
        contentType: `multipart/related; type="${answer.partType}"; boundary=${boundary}`,
        warnings: [...warnings, ...answer.warnings],
        lateWarning: answer.lateWarning,
      },
      multipartBody(boundary, parts),
    );
    return;
  }
  if (ifNoneMatch(request, answer.etag)) {
    void reply.status(304).headers({ etag: answer.etag, 'cache-control': CACHE_CONTROL }).send();
    return;
  }
  void reply.headers({ etag: answer.etag, 'cache-control': CACHE_CONTROL, vary: 'Accept, Accept-Language' });
  addWarnings(reply, [...warnings, ...answer.warnings]);
  if (answer.kind === 'stream') {
    void reply.type(answer.mediaType).header('content-length', String(answer.length));
    await reply.send(Readable.from(answer.body));
    return;
  }
  await reply.type(answer.mediaType).send(answer.body);
}

/**
 * GET {s}/studies/{study}[/series/{series}[/instances/{instance}[/frames/{frames}]]]/rendered and …/thumbnail
 * (PS3.18 §10.4.1.1.3, §8.3.5). Parameters are checked before anything else; an instance-level request whose
 * ETag the client holds is answered 304 without touching the PACS or the cache.
 */
async function handle(
  options: RenderedRouteOptions,
  kind: Kind,
  request: FastifyRequest<{ Params: Params; Querystring: RawQuery }>,
  reply: FastifyReply,
): Promise<void> {
  const scope = retrieveScope(request.params);
  const frames = request.params.frames !== undefined ? frameList(request.params.frames) : undefined;
  const parsed = parseRenderRequest(request.query, request.headers, { quality: options.defaultQuality }, kind);
  const requestKey = `${kind}|${scope.study}|${scope.series ?? ''}|${scope.instance ?? ''}|${frames?.join(',') ?? ''}|${parsed.key}`;
  const instanceEtag = scope.instance
    ? etagOf(kind === 'thumbnail' ? `${requestKey}|${scope.instance}` : requestKey)
    : undefined;
  if (instanceEtag && ifNoneMatch(request, instanceEtag)) {
    void reply.status(304).headers({ etag: instanceEtag, 'cache-control': CACHE_CONTROL }).send();
    return;
  }
  let answer: RenderAnswer;
  if (kind === 'thumbnail') answer = await options.service.thumbnail(scope, frames, parsed.request, requestKey);
  else if (scope.instance)
    answer = await options.service.instance(scope as Required<RetrieveScope>, frames, parsed.request, requestKey);
  else answer = await options.service.scope(scope, parsed.request);
  await send(request, reply, answer, parsed.warnings, options.publicUrl(request), scope.study);
}

/** Rendered and thumbnail resources at study, series, instance and frame level. */
export function registerRenderedRoutes(app: FastifyInstance, options: RenderedRouteOptions): void {
  const levels = [
    '/studies/:study',
    '/studies/:study/series/:series',
    '/studies/:study/series/:series/instances/:instance',
    '/studies/:study/series/:series/instances/:instance/frames/:frames',
  ];
  for (const path of levels) {
    for (const kind of ['rendered', 'thumbnail'] as const) {
      app.get<{ Params: Params; Querystring: RawQuery }>(
        `${path}/${kind}`,
        { config: { action: 'render', auditEvent: 'accessed', pacsCost: 'retrieve' } },
        (request, reply) => handle(options, kind, request, reply),
      );
    }
  }
}
