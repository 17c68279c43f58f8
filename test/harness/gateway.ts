import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput, GatewayConfig } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { TestPacs } from './pacs.js';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Starts the real gateway on a free HTTP port (0), pointed at `pacs`, with config overrides. */
export async function startTestGateway(pacs: Pick<TestPacs, 'aeTitle' | 'host' | 'port'>, overrides: Partial<{ [K in keyof ConfigInput]: Partial<Exclude<ConfigInput[K], undefined>> }> = {}): Promise<Gateway & { base: string; config: GatewayConfig }> {
  const defaults = loadConfig({ env: {} });
  const config = configSchema.parse({
    ...defaults,
    ...overrides,
    http: { ...defaults.http, host: '127.0.0.1', port: 0, ...overrides.http },
    dimse: { ...defaults.dimse, host: '127.0.0.1', port: 0, ...overrides.dimse },
    pacs: { ...defaults.pacs, aeTitle: pacs.aeTitle, host: pacs.host, port: pacs.port, ...overrides.pacs },
    qido: { ...defaults.qido, ...overrides.qido },
    cache: { ...defaults.cache, dir: mkdtempSync(path.join(os.tmpdir(), 'dwg-cache-')), ...overrides.cache },
    auth: { mode: 'none', ...overrides.auth },
    log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
  });
  const gateway = await startGateway(config);
  return { ...gateway, base: `${gateway.httpUrl}${config.http.basePath}`, config };
}
