/**
 * docs/viewers/ohif-app-config.js, the OHIF data source of docs/viewers.md: loaded as OHIF loads it (a script that
 * sets window.config) in headless Chromium on a page of another origin, its roots pointed at a gateway that lists
 * that origin in http.corsOrigins and takes tokens from an OAuth issuer. The page then makes the requests OHIF's
 * DICOMweb data source makes with that configuration — study search with includefield, series search, series
 * metadata, a frame with the configured Accept header — and each one answers through CORS.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../devkit/browser.js';
import { gatewayOnEmbeddedArchive } from './harness/gateway.js';
import { startIssuer, type TestIssuer } from './harness/issuer.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { allInstances } from '../src/samples/catalog.js';

const CONFIG = readFileSync(new URL('../docs/viewers/ohif-app-config.js', import.meta.url), 'utf8');
const EXAMPLE_ORIGIN = 'https://pacs-gateway.hospital.example';

interface Answer {
  status: number;
  type: string | null;
  body: string;
  count?: number;
}

describe('the OHIF data source of docs/viewers.md', () => {
  let idp: TestIssuer;
  let gw: Awaited<ReturnType<typeof gatewayOnEmbeddedArchive>>;
  let viewer: http.Server;
  let viewerOrigin = '';
  let browser: Browser;

  beforeAll(async () => {
    idp = await startIssuer();
    // The viewer's own server: its page and its app-config.js, pointed at the gateway under test.
    viewer = http.createServer((req, res) => {
      if (req.url === '/app-config.js') {
        res
          .writeHead(200, { 'content-type': 'text/javascript' })
          .end(CONFIG.replaceAll(EXAMPLE_ORIGIN, gw.base.replace(/\/dicomweb$/, '')));
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><html><head><script src="/app-config.js"></script></head><body></body></html>');
    });
    await new Promise<void>((r) => viewer.listen(0, '127.0.0.1', r));
    // Another origin than the gateway's: localhost vs 127.0.0.1 and another port.
    viewerOrigin = `http://localhost:${(viewer.address() as AddressInfo).port}`;
    gw = await gatewayOnEmbeddedArchive(fixtureFiles().files, {
      http: { corsOrigins: [`${viewerOrigin}/`] },
      auth: { mode: 'required', oauth: { issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl } },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (viewer ? viewer.close(() => r()) : r()));
    await gw?.close();
    await idp?.close();
  });

  it("makes OHIF's requests through CORS with a bearer token, and each answers", async () => {
    const ct = [...allInstances()].find((i) => i.series.modality === 'CT');
    const token = await idp.token();
    const page = await browser.newPage();
    await page.goto(`${viewerOrigin}/`);
    const answers = await page.evaluate(
      async ({ token: bearer, study, series, instance }) => {
        type Config = {
          dataSources: {
            configuration: {
              qidoRoot: string;
              wadoRoot: string;
              acceptHeader: string[];
              qidoSupportsIncludeField: boolean;
            };
          }[];
          defaultDataSourceName: string;
        };
        const { configuration: c } = (globalThis as unknown as { config: Config }).config
          .dataSources[0] as Config['dataSources'][number];
        const get = async (
          url: string,
          accept: string,
        ): Promise<{ status: number; type: string | null; body: string; count?: number }> => {
          const r = await fetch(url, { headers: { accept, authorization: `Bearer ${bearer}` } });
          const bytes = await r.arrayBuffer();
          const body = accept.includes('json') ? new TextDecoder().decode(bytes) : '';
          return { status: r.status, type: r.headers.get('content-type'), body, count: bytes.byteLength };
        };
        const include = c.qidoSupportsIncludeField ? '&includefield=00081030%2C00080060' : '';
        return [
          await get(`${c.qidoRoot}/studies?limit=101&offset=0&fuzzymatching=false${include}`, 'application/dicom+json'),
          await get(`${c.qidoRoot}/studies/${study}/series?includefield=0008103E%2C00080021`, 'application/dicom+json'),
          await get(`${c.wadoRoot}/studies/${study}/series/${series}/metadata`, 'application/dicom+json'),
          await get(
            `${c.wadoRoot}/studies/${study}/series/${series}/instances/${instance}/frames/1`,
            c.acceptHeader[0] ?? '',
          ),
        ];
      },
      { token, study: ct?.study.uid, series: ct?.series.uid, instance: ct?.uid },
    );
    await page.close();
    const [studies, series, metadata, frame] = answers as [Answer, Answer, Answer, Answer];
    expect(studies.status).toBe(200);
    expect((JSON.parse(studies.body) as unknown[]).length).toBeGreaterThan(5);
    expect(series.status).toBe(200);
    expect((JSON.parse(series.body) as unknown[]).length).toBeGreaterThan(0);
    expect(metadata.status).toBe(200);
    expect(metadata.body).toContain(ct?.uid);
    expect(frame.status).toBe(200);
    expect(frame.type).toMatch(/^multipart\/related; type="?application\/octet-stream/);
    expect(frame.count).toBeGreaterThan(200);
  });
});
