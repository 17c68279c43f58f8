/**
 * docs/security.md stays true: its worked example (curl and openssl, no code of ours) is run as written against
 * a gateway, and the thumbnail it fetches must come back.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { run } from '../devkit/processes.js';
import { allInstances } from '../src/samples/catalog.js';
import { tempDir } from '../devkit/temp.js';

describe('docs/security.md', () => {
  let pacs: TestPacs | undefined;
  let gw: Awaited<ReturnType<typeof startTestGateway>> | undefined;
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it('its worked example signs a thumbnail URL the gateway serves', async () => {
    const doc = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
    const block = /<!-- worked-example[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const secret = (await run('openssl', ['rand', '-base64', '32'])).stdout.trim();
    pacs = await startDcmqrscp();
    gw = await startTestGateway(pacs, {
      pacs: { retrieve: 'get' },
      auth: { mode: 'required', signingKeys: [{ kid: 'k1', secret }] },
    });
    const inst = [...allInstances()].find((i) => i.series.modality === 'MR');
    const thumb = `/dicomweb/studies/${inst?.study.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/thumbnail`;
    const cwd = tempDir('doc');
    const env = { ...process.env, ORIGIN: gw.base.replace(/\/dicomweb$/, ''), SECRET: secret, THUMB: thumb };
    const { stdout } = await run('bash', ['-eo', 'pipefail', '-c', block as string], { env, cwd });
    expect(stdout.trim()).toBe('200');
    const meta = await sharp(readFileSync(path.join(cwd, 'thumbnail.png'))).metadata();
    expect(meta.format).toBe('png');
    // The example's viewport=128,128: exactly 128×128 (PS3.18 §8.3.5.1.3).
    expect([meta.width, meta.height]).toEqual([128, 128]);
    // The same block with a different key gets 403.
    const wrong = await run('bash', ['-eo', 'pipefail', '-c', block as string], {
      env: { ...env, SECRET: Buffer.alloc(32, 3).toString('base64') },
      cwd,
    });
    expect(wrong.stdout.trim()).toBe('403');
  });
});
