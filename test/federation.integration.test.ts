/**
 * Several archives behind one tenant, through real peers: Orthanc and dcmqrscp with overlapping studies, the
 * embedded archive, a PACS that is down and one that accepts TCP and never answers.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { allInstances, allStudies } from '../src/samples/catalog.js';
import type { DicomJsonObject } from '../src/dicom/json-model.js';
import { startBlackHole } from '../devkit/black-hole.js';
import { filesByPlace, placeOf, startFederation, type Federation } from './harness/federation.js';
import { fetchMultipart } from './harness/multipart.js';

const SILENT_DEADLINE_MS = 1500;
const BACKOFF_MS = 4000;
const studies = allStudies();
const studyIn = (want: string): string => {
  const i = studies.findIndex((_, n) => placeOf(n).join(',') === want);
  return studies[i]?.study.uid as string;
};
const instancesOf = (study: string): string[] =>
  [...allInstances()]
    .filter((i) => i.study.uid === study)
    .map((i) => i.uid)
    .sort();
const uidOf = (o: DicomJsonObject, tag: string): string => o[tag]?.Value?.[0] as string;

describe('several archives behind one tenant', () => {
  let fed: Federation;
  let silent: Awaited<ReturnType<typeof startBlackHole>>;
  let revived: TestPacs | undefined;
  const deadPort = { value: 0 };

  beforeAll(async () => {
    silent = await startBlackHole();
    deadPort.value = await freePort();
    fed = await startFederation({
      extraMembers: [
        // dcmqrscp's AE title: the breaker test brings a dcmqrscp up on this port.
        { name: 'dead', aeTitle: 'QRSCP', port: deadPort.value, probeAtStart: false, connectTimeoutMs: 1000 },
        {
          name: 'silent',
          aeTitle: 'HUNG',
          port: silent.port,
          probeAtStart: false,
          searchTimeoutMs: SILENT_DEADLINE_MS,
          artimTimeoutMs: 3000,
        },
      ],
      more: {
        federation: { breaker: { failures: 3, backoffMs: BACKOFF_MS, maxBackoffMs: BACKOFF_MS } },
        metrics: { enabled: true, port: 0 },
      },
    });
  });
  afterAll(async () => {
    await fed?.stop();
    await silent?.close();
    await revived?.stop();
  });

  const search = async (
    path: string,
  ): Promise<{ status: number; warning: string; body: DicomJsonObject[]; ms: number }> => {
    const started = performance.now();
    const res = await fetch(`${fed.gw.base}${path}`);
    const body = (await res.json()) as DicomJsonObject[];
    return { status: res.status, warning: res.headers.get('warning') ?? '', body, ms: performance.now() - started };
  };

  it('answers each study once from every archive, names the dead and the silent one, within the deadline', async () => {
    const r = await search('/studies');
    expect(r.status).toBe(200);
    const uids = r.body.map((s) => uidOf(s, '0020000D'));
    expect(new Set(uids).size).toBe(uids.length);
    expect([...uids].sort()).toEqual(studies.map((s) => s.study.uid).sort());
    expect(r.warning).toMatch(/299 dicomweb-gateway "dead: [^"]*(refused|connect)/i);
    expect(r.warning).toMatch(/299 dicomweb-gateway "silent: [^"]*search/);
    // It waited for the silent one's deadline, not for its association's time-outs.
    expect(r.ms).toBeGreaterThanOrEqual(SILENT_DEADLINE_MS - 50);
    expect(r.ms).toBeLessThan(SILENT_DEADLINE_MS + 1000);
  });

  it('pages exactly over the merged answer', async () => {
    const all = (await search('/studies')).body.map((s) => uidOf(s, '0020000D'));
    const paged: string[] = [];
    for (let offset = 0; offset < all.length + 3; offset += 3)
      paged.push(...(await search(`/studies?limit=3&offset=${offset}`)).body.map((s) => uidOf(s, '0020000D')));
    expect(paged).toEqual(all);
  });

  it('retrieves a study that only the second PACS holds from it', async () => {
    const study = studyIn('dcmqrscp');
    const moves = (): number => (fed.dcmqrscp.output().match(/Message Type\s*: C-MOVE RQ/g) ?? []).length;
    const before = moves();
    const r = await fetchMultipart(`${fed.gw.base}/studies/${study}`);
    expect(r.status).toBe(200);
    expect(r.parts.length).toBe(instancesOf(study).length);
    await expect.poll(moves).toBeGreaterThan(before);
  });

  it('renders an instance of a study the second PACS holds (decoded by sharp)', async () => {
    const inst = [...allInstances()].find((i) => i.study.uid === studyIn('dcmqrscp') && !i.series.frames);
    const res = await fetch(
      `${fed.gw.base}/studies/${inst?.study.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/rendered`,
      { headers: { accept: 'image/png' } },
    );
    expect(res.status).toBe(200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(0);
  });

  it('serves what the embedded archive holds from it, and STOW-RS stores there', async () => {
    const local = fed.gw.archive.members.find((m) => m.name === 'local');
    const study = studyIn('local');
    expect(local?.holds({ study })).toBe(true);
    const r = await fetchMultipart(`${fed.gw.base}/studies/${study}`);
    expect(r.parts.length).toBe(instancesOf(study).length);
    // An Orthanc-only instance stored through the gateway lands in the embedded archive.
    const file = filesByPlace().orthanc[0] as string;
    const boundary = 'fedstow';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
      readFileSync(file),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const stow = await fetch(`${fed.gw.base}/studies`, {
      method: 'POST',
      headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
      body,
    });
    expect(stow.status).toBe(200);
    const orthancStudy = studyIn('orthanc');
    expect(local?.holds({ study: orthancStudy })).toBe(true);
    // Now in two archives, the study still answers once.
    const found = await search(`/studies?StudyInstanceUID=${orthancStudy}`);
    expect(found.body).toHaveLength(1);
  });

  it('reports each member in /readyz and ready while one answers; metrics by member', async () => {
    const res = await fetch(`${fed.gw.httpUrl}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { members: Record<string, { ready: boolean; reason?: string }> };
    expect(body.members.orthanc?.ready).toBe(true);
    expect(body.members.local?.ready).toBe(true);
    expect(body.members.dead?.ready).toBe(false);
    expect(body.members.silent).toMatchObject({ ready: false, reason: expect.stringMatching(/no answer within/) });
    const metrics = await (await fetch(`${fed.gw.metricsUrl}/metrics`)).text();
    for (const name of ['orthanc', 'dcmqrscp', 'dead', 'silent'])
      expect(metrics).toMatch(new RegExp(`pacs_associations\\{[^}]*pacs="${name}"`));
  });

  it('echo: a C-ECHO to each PACS, a line each, exit 1 when one failed', async () => {
    const members = [
      { name: 'orthanc', aeTitle: fed.orthanc.aeTitle, port: fed.orthanc.port },
      { name: 'dead', aeTitle: 'QRSCP', port: deadPort.value, connectTimeoutMs: 1000 },
    ];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'echo'], {
      env: { ...process.env, DICOMWEB_PACS: JSON.stringify(members), DICOMWEB_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stdout).toMatch(
      new RegExp(`C-ECHO ORTHANC@127\\.0\\.0\\.1:${fed.orthanc.port}: status 0x0000 \\(Success\\)`),
    );
    expect(stderr).toContain(`C-ECHO QRSCP@127.0.0.1:${deadPort.value} failed`);
  });

  it('skips a member that keeps failing, and asks it again once it is back (the breaker opens and closes)', async () => {
    // Three failures in a row (the searches above made them): skipped, said so, no time spent on it. (The first
    // search may be the trial once a back-off has passed; failing, it opens the breaker again.)
    await search('/studies?PatientID=PAT-ASCII-1');
    const skipped = await search('/studies?PatientID=PAT-ASCII-1');
    expect(skipped.warning).toMatch(/"dead: skipped: it failed its last searches/);
    expect(skipped.warning).toMatch(/"silent: skipped/);
    expect(skipped.ms).toBeLessThan(SILENT_DEADLINE_MS);
    // The archive comes back where it was; after the back-off a search tries it, and it answers.
    revived = await startDcmqrscp({ port: deadPort.value, files: filesByPlace().dcmqrscp.slice(0, 1) });
    await expect
      .poll(async () => (await search('/studies?PatientID=PAT-ASCII-1')).warning, { timeout: 20_000, interval: 300 })
      .not.toMatch(/"dead:/);
  });

  it('falls back to another archive when the one that answered a search fails', async () => {
    const study = studyIn('orthanc,dcmqrscp');
    await search(`/studies?StudyInstanceUID=${study}`); // Orthanc (listed first) answers it
    await fed.orthanc.stop();
    const r = await fetchMultipart(`${fed.gw.base}/studies/${study}`);
    expect(r.status).toBe(200);
    expect(r.parts.length).toBe(instancesOf(study).length);
  });
});
