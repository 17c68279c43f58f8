import type { FastifyRequest } from 'fastify';

/** The externally visible base URL of the DICOMweb service for a request (used in RetrieveURL, BulkDataURI). */
export type PublicUrl = (request: FastifyRequest) => string;

export function publicUrlResolver(configured: string | undefined, basePath: string): PublicUrl {
  if (configured) {
    const fixed = configured.replace(/\/+$/, '') + basePath;
    return () => fixed;
  }
  return (request) => `${request.protocol}://${request.host}${basePath}`;
}
