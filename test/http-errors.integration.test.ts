/**
 * One error shape and honest statuses on every resource (issue 10 item 8): 405 with Allow for a method a resource
 * does not have, path segments called path segments, and query parameters a resource does not define reported
 * in a 299 Warning on WADO-RS, rendered and thumbnail resources alike.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { TestPacs } from '../devkit/pacs.js';
import { gatewayInFrontOfDcmqrscp, type startTestGateway } from './harness/gateway.js';
import { allInstances } from '../src/samples/catalog.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('HTTP errors and warnings', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  const ct = [...allInstances()].find((i) => i.series.modality === 'CT' && !i.series.frames);
  const inst = `/studies/${ct?.study.uid}/series/${ct?.series.uid}/instances/${ct?.uid}`;

  beforeAll(async () => {
    ({ pacs, gw } = await gatewayInFrontOfDcmqrscp());
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  // The study resources also take POST (STOW-RS, forwarded to the PACS); the others are read only.
  it.each([
    ['DELETE', `/studies/${ct?.study.uid}`, 'GET, HEAD, POST'],
    ['PUT', inst, 'GET, HEAD'],
    ['PATCH', '/studies', 'GET, HEAD, POST'],
    ['POST', `${inst}/rendered`, 'GET, HEAD'],
    ['DELETE', `${inst}/frames/1`, 'GET, HEAD'],
  ])('%s %s answers 405 with Allow: %s', async (method, path, allow) => {
    const r = await fetch(`${gw.base}${path}`, { method });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe(allow);
    expect(await r.json()).toMatchObject({
      error: 'DWG_METHOD_NOT_ALLOWED',
      status: 405,
      message: expect.stringContaining(`${method} is not allowed`),
    });
  });

  it('still answers 404 for a path that is no resource', async () => {
    const r = await fetch(`${gw.base}/nothing-here`, { method: 'DELETE' });
    expect(r.status).toBe(404);
  });

  it.each([
    [`${inst}/frames/0`, 'frames'],
    [`${inst}/frames/1,x`, 'frames'],
    [`${inst}/bulkdata/ZZZZ`, 'bulkdata'],
    [`${inst}/frames/0/rendered`, 'frames'],
  ])('%s names the bad path segment', async (path, segment) => {
    const r = await fetch(`${gw.base}${path}`);
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: string; message: string };
    expect(body.error).toBe('DWG_BAD_PATH_SEGMENT');
    expect(body.message).toMatch(new RegExp(`^path segment "${segment}": `));
    expect(body.message).not.toMatch(/query parameter/);
  });

  it.each([
    [`${inst}/rendered?bogus=1`, /ignored: bogus$/],
    [`${inst}/thumbnail?window=40,400`, /ignored: window$/],
    [`${inst}/metadata?bogus=1&other=2`, /ignored: bogus, other$/],
    [`${inst}?x=1`, /ignored: x$/],
    [`${inst}/frames/1?x=1`, /ignored: x$/],
    [`${inst}/rendered?annotation=nonsense`, /annotation keyword\(s\) not supported and ignored: nonsense/],
  ])('%s is served with a 299 Warning naming what it ignored', async (path, warning) => {
    const r = await fetch(`${gw.base}${path}`);
    await r.arrayBuffer();
    expect(r.status).toBe(200);
    expect(r.headers.get('warning')).toMatch(/^299 dicomweb-gateway "/);
    expect(r.headers.get('warning')?.replace(/^299 dicomweb-gateway "|"$/g, '')).toMatch(warning);
  });

  it('serves a request with only parameters it knows without a Warning', async () => {
    const r = await fetch(`${gw.base}${inst}/rendered?quality=80&viewport=64,64`);
    await r.arrayBuffer();
    expect(r.status).toBe(200);
    expect(r.headers.get('warning')).toBeNull();
  });
});
