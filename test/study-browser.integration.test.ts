/**
 * The study browser page (issue 12) in a real browser: Debian's headless Chromium driven by playwright-core (no
 * browser download), over the embedded archive seeded with the sample studies. The page loads with no page error
 * and asks no other host for anything; the samples' rows appear with readable names in every PN group and
 * decoded thumbnails; a search narrows them; a study opens its series, a series its images; frames step; with
 * auth on, a capability link opens it; the download is the Part 10 file; a PDF's link is its rendering. A screenshot per step is kept in test-artifacts/study-browser/.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../devkit/browser.js';
import { configSchema, type GatewayConfig } from '../src/config/schema.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { seedSamples } from '../src/samples/samples.js';
import { allStudies, PATIENTS } from '../src/samples/catalog.js';
import { IMAGING_FIXTURES, IMAGING_STUDY } from '../src/samples/imaging.js';
import { EmbeddedArchive } from '../src/backends/embedded/embedded-archive.js';
import { mint } from '../src/auth/mint.js';
import { tempDir } from '../devkit/temp.js';
import { run } from '../devkit/processes.js';
import { startIssuer } from './harness/issuer.js';

// The page's DOM as far as these checks reach into it, declared here: the project compiles without the DOM library
// (whose fetch types would shadow Node's for all of it).
interface PageElement {
  complete: boolean;
  naturalWidth: number;
  src: string;
  href: string;
  textContent: string | null;
  dataset: Record<string, string | undefined>;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  getElementById(id: string): PageElement;
};
type HTMLImageElement = PageElement;
type HTMLAnchorElement = PageElement;

const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'study-browser');
const SECRET = Buffer.alloc(32, 0x3c).toString('base64');

async function seededGateway(auth: Record<string, unknown>): Promise<{ gateway: Gateway; config: GatewayConfig }> {
  const config = configSchema.parse({
    http: { host: '127.0.0.1', port: 0 },
    dimse: { port: 0, listen: false },
    archive: { dir: tempDir('browser-archive') },
    auth,
    log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
  });
  const gateway = await startGateway(config);
  const archive = gateway.archive;
  if (!(archive instanceof EmbeddedArchive)) throw new Error('not on the embedded archive');
  const refused = (await seedSamples((i) => archive.storeInstance(i))).filter((o) => o.status.status !== 0);
  expect(refused).toEqual([]);
  return { gateway, config };
}

/** Everything a page does that a user would see as broken: page errors, console errors, requests elsewhere. */
function watch(page: Page, origin: string): { errors: string[]; foreign: string[] } {
  const seen = { errors: [] as string[], foreign: [] as string[] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) seen.errors.push(`${r.status()} ${r.url()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:'))
      seen.foreign.push(r.url());
  });
  return seen;
}

const shot = (page: Page, name: string): Promise<Buffer> =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Thumbnails in view that decoded: complete with a natural width. */
const decoded = (page: Page, selector: string): Promise<number> =>
  page.$$eval(selector, (imgs) => (imgs as HTMLImageElement[]).filter((i) => i.complete && i.naturalWidth > 0).length);

async function untilDecoded(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(
    ([s, n]) =>
      [...document.querySelectorAll(s as string)].filter(
        (i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0,
      ).length >= (n as number),
    [selector, count],
  );
}

describe('the study browser (headless Chromium)', () => {
  let browser: Browser;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    for (const g of gateways) await g.close();
  });

  it('lists, searches, opens a study and a series, steps frames: no error, nothing from another host', async () => {
    const { gateway } = await seededGateway({ mode: 'none' });
    gateways.push(gateway);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const seen = watch(page, gateway.httpUrl);
    await page.goto(`${gateway.httpUrl}/`);

    // Every sample study, newest first, each with its thumbnail decoded.
    const studies = allStudies().length + 1;
    await page.waitForFunction((n) => document.querySelectorAll('#studies tbody tr').length === n, studies);
    await untilDecoded(page, '#studies img.thumbnail', studies);
    expect(await decoded(page, '#studies img.thumbnail')).toBe(studies);
    const names = await page.$$eval('#studies tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent ?? ''));
    const japanese = PATIENTS.find((p) => p.id === 'PAT-JAPANESE');
    expect(names).toContain('Yamada, Tarou = 山田, 太郎 = やまだ, たろう');
    expect(japanese?.name).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
    await shot(page, '1-studies');

    // A search narrows the rows.
    await page.fill('input[name="PatientName"]', 'doe');
    await page.click('#search button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll('#studies tbody tr').length === 2);
    expect(
      await page.$$eval('#studies tbody tr td:nth-child(3)', (tds) => [...new Set(tds.map((t) => t.textContent))]),
    ).toEqual(['PAT-ASCII-1']);
    await shot(page, '2-search');

    // The phantom study: its series with thumbnails.
    await page.click('button[type="reset"]');
    await page.waitForFunction((n) => document.querySelectorAll('#studies tbody tr').length === n, studies);
    await page.click(`#studies tr[data-study="${IMAGING_STUDY.uid}"] a`);
    const series = new Set(IMAGING_FIXTURES.map((f) => f.seriesUid)).size;
    await page.waitForFunction((n) => document.querySelectorAll('#series li').length === n, series);
    await untilDecoded(page, '#series img.thumbnail', series);
    await shot(page, '3-study');

    // The multi-frame series: frame 1, then frame 2 — a different image.
    const multiframe = IMAGING_FIXTURES.find((f) => f.key === 'multiframe');
    await page.click(`#series a[data-series="${multiframe?.seriesUid}"]`);
    await page.waitForFunction(() => {
      const i = document.getElementById('image') as HTMLImageElement;
      return i.complete && i.naturalWidth > 0 && i.dataset.frame === '1';
    });
    expect(await page.textContent('#frame-position')).toBe(`Frame 1 of ${multiframe?.frames}`);
    const first = await page.locator('#image').screenshot();
    await shot(page, '4-series-frame-1');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => {
      const i = document.getElementById('image') as HTMLImageElement;
      return i.complete && i.naturalWidth > 0 && i.dataset.frame === '2';
    });
    await page.waitForLoadState('networkidle');
    const second = await page.locator('#image').screenshot();
    expect(second.equals(first)).toBe(false);
    await shot(page, '5-series-frame-2');

    // The CT: its own window and the CT presets; a preset changes the image; annotation burns in.
    const ct = IMAGING_FIXTURES.find((f) => f.key === 'ct-signed');
    await page.goto(`${gateway.httpUrl}/#study=${IMAGING_STUDY.uid}&series=${ct?.seriesUid}`);
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#window option')].some((o) => o.textContent?.startsWith('Lung')),
    );
    expect(await page.$$eval('#window option', (o) => o.map((x) => x.textContent))).toEqual([
      'As stored',
      'Window 1 (C 40, W 400)',
      'Lung (C -600, W 1500)',
      'Bone (C 400, W 1800)',
      'Brain (C 40, W 80)',
      'Soft tissue (C 40, W 400)',
    ]);
    await page.waitForFunction(() => (document.getElementById('image') as HTMLImageElement).naturalWidth > 0);
    await page.waitForLoadState('networkidle');
    const stored = await page.locator('#image').screenshot();
    await page.selectOption('#window', { label: 'Lung (C -600, W 1500)' });
    await page.check('#annotate');
    await page.waitForLoadState('networkidle');
    await page.waitForFunction(() => (document.getElementById('image') as HTMLImageElement).src.includes('annotation'));
    await page.waitForFunction(() => {
      const i = document.getElementById('image') as HTMLImageElement;
      return i.complete && i.naturalWidth > 0;
    });
    expect((await page.locator('#image').screenshot()).equals(stored)).toBe(false);
    await shot(page, '6-ct-lung-annotated');

    // Download: the instance as a Part 10 file (its preamble and DICM prefix, its SOP Instance UID in the name).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toBe(`${ct?.uid}.dcm`);
    const { stdout: dumped } = await run('dcmdump', ['+P', '0008,0018', '+P', '0002,0016', await download.path()]);
    expect(dumped).toContain(`[${ct?.uid}]`);
    expect(dumped).toContain('[SAMPLES]'); // the archive's file, Source AE Title and all

    // A document: its link is the PDF rendering.
    const pdf = IMAGING_FIXTURES.find((f) => f.kind === 'pdf');
    await page.goto(`${gateway.httpUrl}/#study=${IMAGING_STUDY.uid}&series=${pdf?.seriesUid}`);
    await page.waitForSelector('#document:not([hidden])');
    const documentUrl = await page.$eval('#document', (a) => (a as HTMLAnchorElement).href);
    const rendered = await page.request.get(documentUrl ?? '');
    expect([
      rendered.status(),
      rendered.headers()['content-type'],
      (await rendered.body()).toString('latin1', 0, 5),
    ]).toEqual([200, 'application/pdf', '%PDF-']);

    expect(seen.errors).toEqual([]);
    expect(seen.foreign).toEqual([]);
    await page.close();
  }, 120_000);

  it('with auth on: asks for credentials, and opens with a capability link (sign --capability)', async () => {
    const { gateway, config } = await seededGateway({ mode: 'required', signingKeys: [{ kid: 'ui', secret: SECRET }] });
    gateways.push(gateway);
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    const seen = watch(page, gateway.httpUrl);
    await page.goto(`${gateway.httpUrl}/`);
    await page.waitForSelector('#credentials:not([hidden])');
    expect(await page.$$('#studies tbody tr')).toHaveLength(0);
    await shot(page, '7-credentials');

    const { value } = mint(config.auth, 'capability', '/dicomweb', 600);
    await page.goto(`${gateway.httpUrl}/?capability=${encodeURIComponent(value)}`);
    const studies = allStudies().length + 1;
    await page.waitForFunction((n) => document.querySelectorAll('#studies tbody tr').length === n, studies);
    await untilDecoded(page, '#studies img.thumbnail', studies);
    expect(page.url()).toBe(`${gateway.httpUrl}/`); // the capability left the address bar
    expect(await page.isHidden('#credentials')).toBe(true);
    await shot(page, '8-with-capability');
    expect(seen.errors.filter((e) => !/401/.test(e))).toEqual([]); // the first visit's searches, before the capability
    expect(seen.foreign).toEqual([]);
    await page.close();
  }, 120_000);

  it('with a bearer token pasted once: every request carries it, images too (fetched, shown as blob: URLs)', async () => {
    const idp = await startIssuer();
    const { gateway } = await seededGateway({
      mode: 'required',
      oauth: { issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl },
    });
    gateways.push(gateway);
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    const seen = watch(page, gateway.httpUrl);
    try {
      await page.goto(`${gateway.httpUrl}/`);
      await page.waitForSelector('#credentials:not([hidden])');
      await page.fill('#token', await idp.token({ scope: 'dicomweb.read' }));
      await page.click('#credentials-form button[type="submit"]');
      const studies = allStudies().length + 1;
      await page.waitForFunction((n) => document.querySelectorAll('#studies tbody tr').length === n, studies);
      await untilDecoded(page, '#studies img.thumbnail', studies);
      expect(
        await page.$$eval('#studies img.thumbnail', (imgs) =>
          imgs.every((i) => (i as HTMLImageElement).src.startsWith('blob:')),
        ),
      ).toBe(true);
      expect(seen.errors.filter((e) => !/401/.test(e))).toEqual([]);
      expect(seen.foreign).toEqual([]);
    } finally {
      await page.close();
      await idp.close();
    }
  }, 120_000);
});
