import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { QidoService } from '../services/qido-service.js';
import type { QueryLevel } from '../dicom/query-attributes.js';
import { Errors } from '../errors.js';
import { parseAccept, negotiate, simpleOffer, multipartOffer, describeRanges } from './accept.js';
import { parseQidoQuery, pathUid, type RawQuery, type QidoScope, type QidoLimits } from './qido-params.js';
import { sendSearch, type SearchFormat } from './search-response.js';
import type { PublicUrl } from './public-url.js';

export interface QidoRouteOptions {
  service: QidoService;
  limits: QidoLimits;
  headerHoldMs: number;
  publicUrl: PublicUrl;
}

interface UidParams {
  study?: string;
  series?: string;
}

/** The six QIDO-RS resources (PS3.18 §10.6.1, Table 10.6.1-1): path, level, and which UIDs the path carries. */
const SEARCH_RESOURCES: { url: string; level: QueryLevel; summary: string }[] = [
  { url: '/studies', level: 'STUDY', summary: 'GET {s}/studies{?search*} — Search All Studies' },
  {
    url: '/studies/:study/series',
    level: 'SERIES',
    summary: "GET {s}/studies/{study}/series{?search*} — Search Study's Series",
  },
  { url: '/series', level: 'SERIES', summary: 'GET {s}/series{?search*} — Search All Series' },
  {
    url: '/studies/:study/series/:series/instances',
    level: 'IMAGE',
    summary: "GET {s}/studies/{study}/series/{series}/instances{?search*} — Search Study's Series' Instances",
  },
  {
    url: '/studies/:study/instances',
    level: 'IMAGE',
    summary: "GET {s}/studies/{study}/instances{?search*} — Search Study's Instances",
  },
  { url: '/instances', level: 'IMAGE', summary: 'GET {s}/instances{?search*} — Search All Instances' },
];

const OFFERS = [
  simpleOffer<SearchFormat>('json', 'application/dicom+json', ['application/json']),
  multipartOffer<SearchFormat>('xml', 'application/dicom+xml'),
];

/** Media type of the answer (PS3.18 §8.7.4, §10.6.3.3): the `accept` query parameter wins over the header (§8.3.3.1). */
function searchFormat(request: FastifyRequest<{ Querystring: RawQuery }>): SearchFormat {
  const fromQuery = request.query.accept;
  const header =
    typeof fromQuery === 'string' ? fromQuery : Array.isArray(fromQuery) ? fromQuery.join(',') : request.headers.accept;
  const ranges = parseAccept(header);
  const format = negotiate(ranges, OFFERS);
  if (!format)
    throw Errors.notAcceptable(
      describeRanges(ranges),
      'application/dicom+json, multipart/related; type="application/dicom+xml"',
    );
  return format;
}

/**
 * QIDO-RS (PS3.18 §10.6): each resource parses and validates its path and query before any DIMSE traffic,
 * then streams what the QIDO service finds.
 */
export function registerQidoRoutes(app: FastifyInstance, options: QidoRouteOptions): void {
  for (const resource of SEARCH_RESOURCES) {
    app.get<{ Params: UidParams; Querystring: RawQuery }>(
      resource.url,
      { config: { action: 'read', auditEvent: 'query', pacsCost: 'search' } },
      async (request, reply) => {
        const scope: QidoScope = {
          level: resource.level,
          ...(request.params.study !== undefined
            ? { studyUid: pathUid('StudyInstanceUID', request.params.study) }
            : {}),
          ...(request.params.series !== undefined
            ? { seriesUid: pathUid('SeriesInstanceUID', request.params.series) }
            : {}),
        };
        const format = searchFormat(request);
        const qido = parseQidoQuery(scope, request.query, options.limits);
        const base = options.publicUrl(request);
        // The response closes when it is done or when the client leaves: either way the search has no one to serve.
        const gone = new AbortController();
        reply.raw.once('close', () => gone.abort(new Error('the client closed the connection')));
        const search = options.service.search(
          qido,
          ({ study, series, instance }) =>
            `${base}/studies/${study}${series ? `/series/${series}` : ''}${instance ? `/instances/${instance}` : ''}`,
          gone.signal,
        );
        await sendSearch(reply, search, format, options.headerHoldMs);
        return reply;
      },
    );
  }
}
