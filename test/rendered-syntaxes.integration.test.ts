/**
 * Every imaging fixture in every transfer syntax the rendering service reads (the 13 of the source statement and
 * HTJ2K), rendered through the HTTP API and compared with DCMTK's dcmj2pnm rendering of the same frame with the
 * same window. Lossless syntaxes are compared with DCMTK's rendering of the uncompressed original; lossy ones
 * with DCMTK's rendering of the lossy file itself, decompressed by DCMTK (GDCM for JPEG 2000).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { freePort } from '../devkit/ports.js';
import { decompressedCopy, referenceDecode } from './harness/reference-decode.js';
import { Tags } from '../src/dicom/tag.js';
import { run } from '../devkit/processes.js';
import { seedCache } from './harness/storage.js';
import { psnr } from './harness/pnm.js';
import { imagingFixtureFiles, referenceRender, decodeImage } from './harness/imaging.js';
import { makeSyntaxVariants, VARIANT_STUDY, WRITERS, type SyntaxVariant } from './harness/syntax-variants.js';
import { IMAGING_FIXTURES } from '../src/samples/imaging.js';
import { TransferSyntax as TS } from '../src/dicom/transfer-syntax.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

/** Lossless inputs: the same pixels as DCMTK up to rounding. */
const LOSSLESS_PSNR = 45;
/**
 * Lossy inputs against DCMTK's decoding of the same lossy file: the same IJG and CharLS decoders give identical
 * samples, but OpenJPEG (the gateway) and GDCM's OpenJPEG build may round irreversible wavelets differently.
 */
const LOSSY_PSNR = 40;

async function hasElement(file: string, tagText: string): Promise<boolean> {
  const { stdout } = await run('dcmdump', ['+P', tagText, file]);
  return stdout.trim().length > 0;
}

const HTJ2K = new Set<string>([TS.HTJ2KLossless, TS.HTJ2KLosslessRPCL, TS.HTJ2K]);

describe('rendering every transfer syntax (through Orthanc)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  let variants: SyntaxVariant[] = [];
  let cacheDir: string | undefined;

  beforeAll(async () => {
    variants = await makeSyntaxVariants(imagingFixtureFiles());
    const dimsePort = await freePort();
    pacs = await startOrthanc({
      loadFixtures: false,
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
    });
    for (const v of variants.filter((x) => !HTJ2K.has(x.transferSyntax))) {
      const r = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, {
        method: 'POST',
        body: readFileSync(v.file),
      });
      expect(r.ok, `${v.fixture.key} in ${v.transferSyntax}`).toBe(true);
    }
    // Orthanc 1.10 and DCMTK 3.6.7 predate HTJ2K and cannot send it (and the Storage SCP takes only what a retrieval
    // brings): those variants are put in the gateway's cache before it starts, and rendered from there.
    cacheDir = tempDir('cache-htj2k');
    await seedCache(
      cacheDir,
      variants.filter((x) => HTJ2K.has(x.transferSyntax)).map((v) => v.file),
    );
    gw = await startTestGateway(pacs, { dimse: { port: dimsePort }, cache: { dir: cacheDir } });
  }, 240_000);
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('covers the 13 syntaxes of the source statement and HTJ2K, each with several fixtures', () => {
    const required = [
      '1.2.840.10008.1.2',
      '1.2.840.10008.1.2.1',
      '1.2.840.10008.1.2.1.99',
      '1.2.840.10008.1.2.2',
      '1.2.840.10008.1.2.4.50',
      '1.2.840.10008.1.2.4.51',
      '1.2.840.10008.1.2.4.57',
      '1.2.840.10008.1.2.4.70',
      '1.2.840.10008.1.2.4.80',
      '1.2.840.10008.1.2.4.81',
      '1.2.840.10008.1.2.4.90',
      '1.2.840.10008.1.2.4.91',
      '1.2.840.10008.1.2.5',
      TS.HTJ2KLossless,
    ];
    for (const ts of required)
      expect(variants.filter((v) => v.transferSyntax === ts).length, ts).toBeGreaterThanOrEqual(
        ts === TS.JPEGBaseline8Bit ? 3 : 4,
      );
    expect(WRITERS.map((w) => w.ts).sort()).toEqual([...required].sort());
    // Every image fixture is rendered in every lossless syntax except that 1-bit data exists only uncompressed.
    for (const f of IMAGING_FIXTURES.filter((x) => x.kind === 'image'))
      expect(variants.filter((v) => v.fixture === f && !v.lossy).length).toBe(f.key === 'bitmap-1bit' ? 4 : 10);
  });

  const byName = (): { name: string; v: SyntaxVariant }[] =>
    variants.map((v) => ({ name: `${v.fixture.key} in ${v.transferSyntax}`, v }));

  it('renders each variant like DCMTK renders its source (lossless) or itself (lossy)', async () => {
    const failures: string[] = [];
    for (const { name, v } of byName()) {
      const frames = v.fixture.frames > 1 ? [1, v.fixture.frames] : [1];
      for (const n of frames) {
        const r = await fetch(
          `${gw.base}/studies/${VARIANT_STUDY}/series/${v.series}/instances/${v.sop}/frames/${n}/rendered?accept=image/png`,
        );
        if (r.status !== 200) {
          failures.push(`${name} frame ${n}: HTTP ${r.status} ${await r.text()}`);
          continue;
        }
        const ours = await decodeImage(Buffer.from(await r.arrayBuffer()));
        let reference;
        if (!v.lossy) {
          reference = await referenceRender(v.fixture, v.source, n);
        } else {
          // DCMTK or GDCM decompress the lossy file, then DCMTK renders it. DCMTK's lossy encoders drop a VOI LUT
          // Sequence: without it the gateway, like DCMTK's min-max, spans the frame's values.
          const native = await decompressedCopy(v.file);
          let args =
            v.fixture.reference[0] === '+Wl' && !(await hasElement(native, '0028,3010'))
              ? ['+Wm']
              : v.fixture.reference;
          // A window the fixture states as its original's min/max is the lossy copy's min/max here, from the samples
          // DCMTK decoded: LINEAR_EXACT over [min, max] is LINEAR (min+max)/2 + 0.5, max − min + 1.
          if (v.fixture.minMaxWindow) {
            const { pixels } = await referenceDecode(native);
            const ds = v.fixture.build();
            const samples = pixels.subarray(0, (ds.getUint16(Tags.Rows) ?? 0) * (ds.getUint16(Tags.Columns) ?? 0));
            const min = Math.min(...samples);
            const max = Math.max(...samples);
            args = ['+Ww', String((min + max) / 2 + 0.5), String(max - min + 1)];
          }
          reference = await referenceRender(v.fixture, native, n, args);
        }
        const db = psnr(ours, reference);
        if (db < (v.lossy ? LOSSY_PSNR : LOSSLESS_PSNR)) failures.push(`${name} frame ${n}: PSNR ${db.toFixed(1)} dB`);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
