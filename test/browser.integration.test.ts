/**
 * An EHR page on another origin embeds a signed thumbnail URL in an <img>: it loads in a real browser (Debian's
 * headless Chromium driven by playwright-core, no browser download), with the same pixels' dimensions the
 * gateway serves, and a tampered copy of the URL does not load.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../devkit/browser.js';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { allInstances, PATIENTS } from '../src/samples/catalog.js';
import { signUrl } from '../src/auth/signed-url.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
interface ImageState {
  complete: boolean;
  width: number;
  height: number;
}

const SECRET = Buffer.alloc(32, 0x5e);

describe('a signed thumbnail in an <img> (headless Chromium)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  let browser: Browser;
  let ehr: http.Server;
  let page = '';
  const study = PATIENTS[0]?.studies[0];
  const inst = [...allInstances()].find((i) => i.study.uid === study?.uid && i.series.modality === 'CT');

  beforeAll(async () => {
    pacs = await startDcmqrscp();
    gw = await startTestGateway(pacs, {
      pacs: { retrieve: 'get' },
      auth: { mode: 'required', signingKeys: [{ kid: 'ehr', secret: SECRET.toString('base64') }] },
    });
    // The EHR: a page on its own origin, the way a portal embeds images it does not serve.
    ehr = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    });
    await new Promise<void>((r) => ehr.listen(0, '127.0.0.1', r));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (ehr ? ehr.close(() => r()) : r()));
    await gw?.close();
    await pacs?.stop();
  });

  it('loads the signed URL and refuses the tampered one', async () => {
    const origin = gw.base.replace(/\/dicomweb$/, '');
    const target = `/dicomweb/studies/${study?.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/thumbnail?viewport=96,96`;
    const signed = `${origin}${signUrl(target, { kid: 'ehr', key: SECRET, expires: Math.floor(Date.now() / 1000) + 600 })}`;
    const tampered = signed.replace('viewport=96%2C96', 'viewport=512%2C512');
    expect(tampered).not.toBe(signed);
    page = `<!doctype html><html><body>
      <img id="good" src="${signed.replace(/&/g, '&amp;')}">
      <img id="bad" src="${tampered.replace(/&/g, '&amp;')}">
    </body></html>`;
    const ehrOrigin = `http://127.0.0.1:${(ehr.address() as AddressInfo).port}`;
    expect(ehrOrigin).not.toBe(origin);

    const tab = await browser.newPage();
    try {
      const statuses = new Map<string, number>();
      const failures = new Map<string, string>();
      tab.on('response', (r) => statuses.set(r.url(), r.status()));
      tab.on('requestfailed', (r) => failures.set(r.url(), r.failure()?.errorText ?? ''));
      await tab.goto(`${ehrOrigin}/patient-chart`, { waitUntil: 'load' });
      // Run in the page (a string, so that this file needs no DOM types): wait for each image to load or fail.
      const images = (await tab.evaluate(`(async () => {
        const state = (id) => {
          const img = document.getElementById(id);
          const done = img.complete ? Promise.resolve() : new Promise((r) => { img.onload = r; img.onerror = r; });
          return done.then(() => ({ complete: img.complete, width: img.naturalWidth, height: img.naturalHeight }));
        };
        return { good: await state('good'), bad: await state('bad') };
      })()`)) as { good: ImageState; bad: ImageState };
      // What the gateway serves for the same URL, measured by sharp: the browser decoded the same image.
      const served = await fetch(signed);
      expect(served.status).toBe(200);
      const meta = await sharp(Buffer.from(await served.arrayBuffer())).metadata();
      expect(images.good.width).toBe(meta.width);
      expect(images.good.height).toBe(meta.height);
      expect(Math.max(images.good.width, images.good.height)).toBeLessThanOrEqual(96);
      expect(images.good.width).toBeGreaterThan(0);
      expect(statuses.get(signed)).toBe(200);
      // The tampered URL: the gateway answers 403 with a JSON reason, which the browser does not hand to an <img>
      // (Chromium's opaque-response blocking): a broken image, nothing rendered.
      expect(images.bad.width).toBe(0);
      expect(failures.get(tampered)).toMatch(/ERR_BLOCKED_BY_ORB|ERR_FAILED/);
      const refused = await fetch(tampered);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: string }).error).toBe('DWG_BAD_SIGNATURE');
    } finally {
      await tab.close();
    }
  });
});
