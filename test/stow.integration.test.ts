/**
 * STOW-RS (PS3.18 §10.5) into the embedded archive, with curl as the client: a multipart/related upload is stored
 * part by part, the Store Instances Response says what was stored and what failed, and what was stored is then
 * searchable and retrievable. In front of a PACS each instance is forwarded by C-STORE (Orthanc, found by its
 * own API), decoded when the PACS refuses its transfer syntax.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gatewayOnEmbeddedArchive, startTestGateway } from './harness/gateway.js';
import { imagingFixtureFiles, fixture } from './harness/imaging.js';
import { fetchMultipart } from './harness/multipart.js';
import { largeInstanceHead } from './harness/large-instance.js';
import { metaEnd } from './harness/variants.js';
import { IMAGING_STUDY } from '../src/samples/imaging.js';
import { run } from '../devkit/processes.js';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { Dataset } from '../src/dicom/dataset.js';
import { Tags } from '../src/dicom/tag.js';
import { EmbeddedArchive } from '../src/backends/embedded/embedded-archive.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { decide, type AuthPolicy } from '../src/auth/policy.js';
import { mintCapability } from '../src/auth/capability.js';

type Json = Record<string, { vr: string; Value?: unknown[] }>;
const BOUNDARY = 'stow-boundary-1234';

/** A multipart/related body of these parts, written to a file for curl. */
function upload(parts: { type: string; body: Buffer }[]): string {
  const chunks = parts.flatMap((p) => [
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: ${p.type}\r\n\r\n`),
    p.body,
    Buffer.from('\r\n'),
  ]);
  const file = path.join(tempDir('stow'), 'upload.bin');
  writeFileSync(file, Buffer.concat([...chunks, Buffer.from(`--${BOUNDARY}--\r\n`)]));
  return file;
}

async function curlPost(
  url: string,
  file: string,
  contentType = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
  extra: string[] = [],
): Promise<{ status: number; body: Json; warnings: string[] }> {
  const dir = tempDir('stow-answer');
  const out = path.join(dir, 'answer.json');
  const headers = path.join(dir, 'headers.txt');
  const { stdout } = await run('curl', [
    '-s',
    '-o',
    out,
    '-D',
    headers,
    '-w',
    '%{http_code}',
    '-X',
    'POST',
    '-H',
    `Content-Type: ${contentType}`,
    '-H',
    'Accept: application/dicom+json',
    ...extra,
    '--data-binary',
    `@${file}`,
    url,
  ]);
  const warnings = readFileSync(headers, 'latin1')
    .split('\r\n')
    .filter((l) => /^warning:/i.test(l))
    .map((l) => l.replace(/^warning:\s*/i, ''));
  return { status: Number(stdout), body: JSON.parse(readFileSync(out, 'utf8')) as Json, warnings };
}

const items = (json: Json, hex: string): Json[] => (json[hex]?.Value ?? []) as Json[];
const v = (json: Json | undefined, hex: string): unknown => json?.[hex]?.Value?.[0];

describe('STOW-RS into the embedded archive', () => {
  let gw: Awaited<ReturnType<typeof gatewayOnEmbeddedArchive>>;
  const file = (key: string): Buffer => readFileSync(imagingFixtureFiles().get(fixture(key)) as string);

  const auditFile = path.join(tempDir('stow-audit'), 'audit.jsonl');
  beforeAll(async () => {
    gw = await gatewayOnEmbeddedArchive([], { audit: { file: auditFile } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('stores every good part, fails each bad one alone (202), and what it stored is searchable and retrievable', async () => {
    const ct = fixture('ct-signed');
    const body = upload([
      { type: 'application/dicom', body: file('ct-signed') },
      { type: 'application/dicom', body: Buffer.from('not a DICOM file at all') },
      { type: 'application/dicom', body: file('mr-12bit') },
      { type: 'text/plain', body: Buffer.from('hello') },
    ]);
    const r = await curlPost(`${gw.base}/studies`, body);
    expect(r.status).toBe(202);
    const stored = items(r.body, '00081199');
    expect(stored.map((i) => v(i, '00081155')).sort()).toEqual([ct.uid, fixture('mr-12bit').uid].sort());
    expect(
      v(
        stored.find((i) => v(i, '00081155') === ct.uid),
        '00081190',
      ),
    ).toBe(`${gw.base}/studies/${IMAGING_STUDY.uid}/series/${ct.seriesUid}/instances/${ct.uid}`);
    // Every RetrieveURL of the answer is a resource that answers (PS3.18 §10.5.3).
    for (const item of stored) {
      const retrieved = await fetchMultipart(String(v(item, '00081190')), {
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      });
      expect(retrieved.parts).toHaveLength(1);
    }
    expect(items(r.body, '00081198').map((i) => v(i, '00081197'))).toEqual([0xc000, 0xc000]);
    // Why each part failed: a 299 Warning each, naming the part (a part that is not DICOM has no UID).
    expect(r.warnings).toEqual([
      expect.stringMatching(
        /^299 dicomweb-gateway "part 2 failed 0xC000: not a DICOM Part 10 file: 23 bytes, shorter than the preamble/,
      ),
      expect.stringMatching(
        /^299 dicomweb-gateway "part 4 failed 0xC000: a part of type text\/plain is not application\/dicom"$/,
      ),
    ]);
    const [found] = (await (await fetch(`${gw.base}/instances?SOPInstanceUID=${ct.uid}`)).json()) as Json[];
    expect(v(found, '0020000D')).toBe(IMAGING_STUDY.uid);
    const back = await fetchMultipart(
      `${gw.base}/studies/${IMAGING_STUDY.uid}/series/${ct.seriesUid}/instances/${ct.uid}`,
      { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } },
    );
    const sent = file('ct-signed');
    expect(back.parts[0]?.body.subarray(metaEnd(back.parts[0].body)).equals(sent.subarray(metaEnd(sent)))).toBe(true);
    // Audited as DICOM Instances Transferred, action C (create), with the instances stored.
    type Rec = { event: { id: string; action: string }; request: { method: string }; what: { instances?: string[] } };
    // The record is written once the response has gone: wait for it to be there.
    let post: Rec | undefined;
    while (!post) {
      const text = existsSync(auditFile) ? readFileSync(auditFile, 'utf8').trim() : '';
      post = text
        ? text
            .split('\n')
            .map((l) => JSON.parse(l) as Rec)
            .find((rec) => rec.request.method === 'POST')
        : undefined;
      if (!post) await new Promise((r) => setTimeout(r, 20));
    }
    expect(post?.event).toMatchObject({ id: '110104', action: 'C' });
    expect(post?.what.instances?.sort()).toEqual([ct.uid, fixture('mr-12bit').uid].sort());
  });

  it('fails a truncated instance and a SOP class it does not keep, keeps a duplicate as archived (Success), leaves nothing of the failures', async () => {
    const whole = file('cr-mono1');
    const truncated = Buffer.concat([
      whole.subarray(0, metaEnd(whole)),
      whole.subarray(metaEnd(whole), metaEnd(whole) + 200),
    ]);
    const notStorage = encodePart10File(
      new Dataset()
        .setText(Tags.SOPClassUID, '1.2.840.10008.1.20.1', 'UI')
        .setText(Tags.SOPInstanceUID, '1.2.826.0.1.3680043.99.5', 'UI')
        .setText(Tags.StudyInstanceUID, '1.2.826.0.1.3680043.99.6', 'UI')
        .setText(Tags.SeriesInstanceUID, '1.2.826.0.1.3680043.99.7', 'UI'),
      { sopClassUid: '1.2.840.10008.1.20.1', sopInstanceUid: '1.2.826.0.1.3680043.99.5' },
    );
    const first = await curlPost(
      `${gw.base}/studies`,
      upload([{ type: 'application/dicom', body: file('palette-8') }]),
    );
    expect(first.status).toBe(200);
    const r = await curlPost(
      `${gw.base}/studies`,
      upload([
        { type: 'application/dicom', body: truncated },
        { type: 'application/dicom', body: notStorage },
        { type: 'application/dicom', body: file('palette-8') },
      ]),
    );
    expect(r.status).toBe(202);
    expect(items(r.body, '00081198').map((i) => [v(i, '00081155'), v(i, '00081197')])).toEqual([
      [fixture('cr-mono1').uid, 0xc000],
      ['1.2.826.0.1.3680043.99.5', 0x0122],
    ]);
    expect(r.warnings).toEqual([
      expect.stringMatching(
        new RegExp(`^299 dicomweb-gateway "instance ${fixture('cr-mono1').uid} failed 0xC000: .*(end|short|truncat)`),
      ),
      expect.stringMatching(/^299 dicomweb-gateway "instance 1\.2\.826\.0\.1\.3680043\.99\.5 failed 0x0122: .+"$/),
    ]);
    expect(items(r.body, '00081199').map((i) => v(i, '00081155'))).toEqual([fixture('palette-8').uid]);
    for (const uid of [fixture('cr-mono1').uid, '1.2.826.0.1.3680043.99.5'])
      expect(await (await fetch(`${gw.base}/instances?SOPInstanceUID=${uid}`)).json()).toEqual([]);
    const archive = gw.archive as EmbeddedArchive;
    expect(existsSync(archive.store.pathOf(fixture('cr-mono1').uid))).toBe(false);
    expect(readdirSync(path.join(gw.config.archive?.dir ?? '', 'incoming'))).toEqual([]);
  });

  it('takes an upload far larger than it may hold in memory with flat memory: 24 instances of 16 MiB in one request', async () => {
    const parts = 24;
    const pixelBytes = 16 * 2 ** 20;
    const instance = (n: number): { head: Buffer; uid: string } => {
      const uid = `1.2.826.0.1.3680043.99.8.${n}`;
      const ids = {
        study: '1.2.826.0.1.3680043.99.8',
        series: '1.2.826.0.1.3680043.99.8.0',
        instance: uid,
        patientName: 'Large^Upload',
      };
      return { head: largeInstanceHead(ids, 2048, 4096), uid };
    };
    const zeros = Buffer.alloc(256 * 1024, 0x11);
    // Generated as it is sent: the test holds no more of it than the gateway should.
    let step = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        step++;
        const perPart = pixelBytes / zeros.length + 1;
        const part = Math.floor((step - 1) / perPart);
        const at = (step - 1) % perPart;
        if (part === parts) {
          controller.enqueue(Buffer.from(`\r\n--${BOUNDARY}--\r\n`));
          controller.close();
          return;
        }
        if (at === 0)
          controller.enqueue(
            Buffer.concat([
              Buffer.from(`${part ? '\r\n' : ''}--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`),
              instance(part).head,
            ]),
          );
        else controller.enqueue(zeros);
      },
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const r = await fetch(`${gw.base}/studies`, {
        method: 'POST',
        body,
        duplex: 'half',
        headers: {
          'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
          accept: 'application/dicom+json',
        },
      } as RequestInit);
      const answer = (await r.json()) as Json;
      expect(r.status).toBe(200);
      expect(items(answer, '00081199')).toHaveLength(parts);
    } finally {
      clearInterval(sampler);
    }
    // The upload is 384 MiB; the gateway and the test together grew by far less than that.
    expect((peak - before) / 2 ** 20).toBeLessThan(96);
    const archive = gw.archive as EmbeddedArchive;
    expect(statSync(archive.store.pathOf(instance(0).uid)).size).toBeGreaterThan(pixelBytes);
  }, 120_000);

  it('takes type="application/dicom+json": metadata with bulk data parts by Content-Location, stored as DCMTK reads the originals', async () => {
    const dcm2json = async (f: string): Promise<Json> => JSON.parse((await run('dcm2json', [f])).stdout) as Json;
    const original = (key: string): string => imagingFixtureFiles().get(fixture(key)) as string;
    const ct = await dcm2json(original('ct-signed'));
    const sr = await dcm2json(original('sr-basic'));
    const pixels = Buffer.from((ct['7FE00010'] as unknown as { InlineBinary: string }).InlineBinary, 'base64');
    const metadata = [
      { ...ct, '7FE00010': { vr: 'OW', BulkDataURI: 'urn:dwg-test:ct-pixels' } },
      sr,
      {
        ...ct,
        '00080018': { vr: 'UI', Value: ['1.2.826.0.1.3680043.99.10'] },
        '7FE00010': { vr: 'OW', BulkDataURI: 'urn:dwg-test:nowhere' },
      },
    ];
    const chunks = [
      Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom+json\r\n\r\n${JSON.stringify(metadata)}\r\n`),
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Location: urn:dwg-test:ct-pixels\r\n\r\n`,
      ),
      pixels,
      Buffer.from('\r\n'),
      Buffer.from(`--${BOUNDARY}--\r\n`),
    ];
    const body = path.join(tempDir('stow-json'), 'body.bin');
    writeFileSync(body, Buffer.concat(chunks));
    const r = await curlPost(
      `${gw.base}/studies`,
      body,
      `multipart/related; type="application/dicom+json"; boundary=${BOUNDARY}`,
    );
    expect(r.status).toBe(202);
    expect(items(r.body, '00081199').map((i) => v(i, '00081155'))).toEqual([
      fixture('ct-signed').uid,
      fixture('sr-basic').uid,
    ]);
    expect(items(r.body, '00081198').map((i) => [v(i, '00081155'), v(i, '00081197')])).toEqual([
      ['1.2.826.0.1.3680043.99.10', 0xc000],
    ]);
    // What the archive holds, read back by DCMTK: the same attributes and pixels as the files they came from.
    const archive = gw.archive as EmbeddedArchive;
    expect(await dcm2json(archive.store.pathOf(fixture('ct-signed').uid))).toEqual(ct);
    expect(await dcm2json(archive.store.pathOf(fixture('sr-basic').uid))).toEqual(sr);
    expect(readdirSync(path.join(gw.config.archive?.dir ?? '', 'stow-json-spool'))).toEqual([]);
  });

  it('answers in XML (PS3.19 Native DICOM Model) by Accept, and 406 before storing anything for a type it cannot answer in', async () => {
    const sr = fixture('ybr-full');
    const body = upload([{ type: 'application/dicom', body: file('ybr-full') }]);
    const refused = await fetch(`${gw.base}/studies`, {
      method: 'POST',
      body: readFileSync(body),
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        accept: 'image/png',
      },
    });
    expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([406, 'DWG_NOT_ACCEPTABLE']);
    expect(await (await fetch(`${gw.base}/instances?SOPInstanceUID=${sr.uid}`)).json()).toEqual([]);
    const xml = await fetch(`${gw.base}/studies`, {
      method: 'POST',
      body: readFileSync(body),
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        accept: 'application/dicom+xml',
      },
    });
    expect([xml.status, xml.headers.get('content-type')]).toEqual([200, 'application/dicom+xml; charset=utf-8']);
    const text = await xml.text();
    expect(text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\s*<NativeDicomModel/);
    expect(text).toMatch(
      new RegExp(
        `<DicomAttribute tag="00081199" vr="SQ"[^>]*>\\s*<Item number="1">[\\s\\S]*<Value number="1">${sr.uid.replace(/\./g, '\\.')}</Value>`,
      ),
    );
  });

  it('refuses an instance of another study than the path names (409, A900) and keeps nothing of it', async () => {
    const pdf = fixture('pdf');
    const r = await curlPost(
      `${gw.base}/studies/1.2.826.0.1.3680043.99.77`,
      upload([{ type: 'application/dicom', body: file('pdf') }]),
    );
    expect(r.status).toBe(409);
    expect(r.warnings).toEqual([
      expect.stringContaining(`instance ${pdf.uid} failed 0xA900: the instance belongs to study`),
    ]);
    expect(items(r.body, '00081198').map((i) => [v(i, '00081155'), v(i, '00081197')])).toEqual([[pdf.uid, 0xa900]]);
    expect(await (await fetch(`${gw.base}/instances?SOPInstanceUID=${pdf.uid}`)).json()).toEqual([]);
  });

  it('gives each stored instance a RetrieveURL that answers, and the study its own (a study in the path)', async () => {
    const sr = fixture('sr-basic');
    const r = await curlPost(
      `${gw.base}/studies/${IMAGING_STUDY.uid}`,
      upload([{ type: 'application/dicom', body: file('sr-basic') }]),
    );
    expect(r.status).toBe(200);
    expect(v(r.body, '00081190')).toBe(`${gw.base}/studies/${IMAGING_STUDY.uid}`);
    const urls = [String(v(r.body, '00081190')), ...items(r.body, '00081199').map((i) => String(v(i, '00081190')))];
    expect(urls[1]).toBe(`${gw.base}/studies/${IMAGING_STUDY.uid}/series/${sr.seriesUid}/instances/${sr.uid}`);
    for (const url of urls) {
      const answer = await fetchMultipart(url, {
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      });
      expect(answer.parts.length, url).toBeGreaterThan(0);
    }
  });

  it('answers 415 for another body type (naming it and what is taken) without reading it, 400 without a boundary, 400 for a body without parts, 413 beyond stow.maxBytes', async () => {
    const one = upload([{ type: 'application/dicom', body: file('sr-basic') }]);
    for (const type of [
      'application/octet-stream',
      `multipart/related; type="application/pdf"; boundary=${BOUNDARY}`,
      'application/json',
    ]) {
      const wrongType = await curlPost(`${gw.base}/studies`, one, type);
      expect([wrongType.status, wrongType.body.error], type).toEqual([415, 'DWG_UNSUPPORTED_MEDIA_TYPE']);
      const message = (wrongType.body as unknown as { message: string }).message;
      expect(message).toContain(`received "${type}"`);
      expect(message).toContain('multipart/related; type="application/dicom" or type="application/dicom+json"');
    }
    const noBoundary = await curlPost(`${gw.base}/studies`, one, 'multipart/related; type="application/dicom"');
    expect([noBoundary.status, (noBoundary.body as unknown as { message: string }).message]).toEqual([
      400,
      expect.stringMatching(/no boundary parameter/),
    ]);
    const empty = path.join(tempDir('stow-empty'), 'empty.bin');
    writeFileSync(empty, `--${BOUNDARY}--\r\n`);
    const none = await curlPost(`${gw.base}/studies`, empty);
    expect([none.status, none.body.error]).toEqual([400, 'DWG_BAD_REQUEST']);
    // A gateway with a 1 KB limit (the configuration key).
    const limited = await gatewayOnEmbeddedArchive([], { stow: { maxBytes: 1024 } });
    try {
      const tooBig = await curlPost(`${limited.base}/studies`, one);
      expect([tooBig.status, tooBig.body.error]).toEqual([413, 'DWG_PAYLOAD_TOO_LARGE']);
    } finally {
      await limited.close();
    }
  });

  it('needs a bearer token with write: capabilities and read tokens never store', async () => {
    const key = Buffer.alloc(32, 9);
    const policy: AuthPolicy = {
      mode: 'required',
      scope: { base: '/dicomweb' },
      signingKeys: new Map([['k', key]]),
      maxSignedTtlSeconds: 3600,
      apiKeys: [],
      clientCertificates: [],
    };
    const now = Math.floor(Date.now() / 1000);
    const capability = mintCapability('/dicomweb', { kid: 'k', key, expires: now + 600 });
    const d = await decide(
      policy,
      { method: 'POST', url: `/dicomweb/studies?capability=${capability}`, headers: {} },
      'write',
      now,
    );
    expect(d.ok).toBe(false);
    if (!d.ok)
      expect([d.error.statusCode, d.error.message]).toEqual([401, 'a bearer token with the write scope is required']);
  });
});

describe('STOW-RS in front of a PACS (forwarded by C-STORE to Orthanc)', () => {
  let pacs: TestPacs;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  const file = (key: string): Buffer => readFileSync(imagingFixtureFiles().get(fixture(key)) as string);
  // Orthanc as a site may run it: RLE Lossless not accepted, so an RLE upload must be decoded on the way.
  beforeAll(async () => {
    pacs = await startOrthanc({ loadFixtures: false, orthanc: { RleTransferSyntaxAccepted: false } });
    gw = await startTestGateway(pacs, { pacs: { retrieve: 'get' } });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });
  const orthanc = async (sopInstanceUid: string): Promise<{ id: string; transferSyntax: string } | undefined> => {
    const found = await fetch(`http://127.0.0.1:${pacs.httpPort}/tools/lookup`, {
      method: 'POST',
      body: sopInstanceUid,
    });
    const [match] = (await found.json()) as { ID: string; Type: string }[];
    if (!match) return undefined;
    const ts = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances/${match.ID}/metadata/TransferSyntax`);
    return { id: match.ID, transferSyntax: await ts.text() };
  };

  it('stores what the PACS takes as it is, decodes what it refuses (RLE → uncompressed, pixels as DCMTK decodes them), fails a bad part alone', async () => {
    const dir = tempDir('stow-forward');
    const rle = path.join(dir, 'mr.rle.dcm');
    const reference = path.join(dir, 'mr.decoded.dcm');
    await run('dcmcrle', [imagingFixtureFiles().get(fixture('mr-12bit')) as string, rle]);
    await run('dcmdrle', [rle, reference]);
    const { status, body } = await curlPost(
      `${gw.base}/studies`,
      upload([
        { type: 'application/dicom', body: file('ct-signed') },
        { type: 'application/dicom', body: readFileSync(rle) },
        { type: 'application/dicom', body: Buffer.from('not dicom at all') },
      ]),
    );
    expect(status).toBe(202);
    expect(items(body, '00081199').map((i) => v(i, '00081155'))).toEqual([
      fixture('ct-signed').uid,
      fixture('mr-12bit').uid,
    ]);
    expect(items(body, '00081198').map((i) => v(i, '00081197'))).toEqual([0xc000]);

    // Orthanc holds both (found by its own API): the CT as sent, the MR uncompressed.
    expect((await orthanc(fixture('ct-signed').uid))?.transferSyntax).toBe('1.2.840.10008.1.2.1');
    const mr = await orthanc(fixture('mr-12bit').uid);
    expect(['1.2.840.10008.1.2.1', '1.2.840.10008.1.2']).toContain(mr?.transferSyntax);
    const held = path.join(dir, 'held.dcm');
    writeFileSync(
      held,
      Buffer.from(await (await fetch(`http://127.0.0.1:${pacs.httpPort}/instances/${mr?.id}/file`)).arrayBuffer()),
    );
    const pixels = (f: string): Buffer => {
      const b = readFileSync(f);
      return b.subarray(b.length - 256 * 256 * 2);
    };
    expect(pixels(held).equals(pixels(reference))).toBe(true);
    expect(
      gw.config.cache.dir && existsSync(path.join(gw.config.cache.dir, 'stow-spool'))
        ? readdirSync(path.join(gw.config.cache.dir, 'stow-spool'))
        : [],
    ).toEqual([]);
  });

  it("a duplicate follows the PACS's answer (Orthanc: Success), and a PACS that is down is a 502 with the reason", async () => {
    const again = await curlPost(
      `${gw.base}/studies`,
      upload([{ type: 'application/dicom', body: file('ct-signed') }]),
    );
    expect(again.status).toBe(200);
    const down = await startTestGateway(
      { aeTitle: 'NOPACS', host: '127.0.0.1', port: await freePort() },
      { pacs: { retrieve: 'get' } },
    );
    try {
      const r = await curlPost(
        `${down.base}/studies`,
        upload([{ type: 'application/dicom', body: file('ct-signed') }]),
      );
      expect([r.status, (r.body as unknown as { error: string }).error]).toEqual([502, 'DWG_PACS_UNREACHABLE']);
    } finally {
      await down.close();
    }
  });
});
