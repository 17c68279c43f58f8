import { randomBytes } from 'node:crypto';
import type { GatewayConfig } from './config/schema.js';
import { scopeOf, tenantSettings } from './tenant-settings.js';
import { backendOf } from './backends/registry.js';
import { IMAGING_FIXTURES, IMAGING_STUDY } from './samples/imaging.js';
import { mint, mintTarget } from './auth/mint.js';

/**
 * `npm start` (`dicomweb-gateway start` without --config): the gateway as a newcomer first runs it — the embedded
 * archive under ./data seeded with the sample studies, HTTP on 127.0.0.1:8080, no credentials asked (loopback
 * only), a key of its own for one signed URL, and a list of things to try. DICOMWEB_* variables still apply.
 */
export const QUICK_START_DEFAULTS: Record<string, unknown> = {
  http: { host: '127.0.0.1' },
  auth: { mode: 'none' },
  log: { level: 'warn' },
};

/** A signing key for this run (so that the printed signed URL is a real one), unless keys are configured. */
export function withRunSigningKey(config: GatewayConfig): GatewayConfig {
  if (config.auth.signingKeys.length) return config;
  return {
    ...config,
    auth: { ...config.auth, signingKeys: [{ kid: 'quick-start', secret: randomBytes(32).toString('base64') }] },
  };
}

/**
 * Seeds the default tenant's archive with the sample studies the first time, where its back end keeps instances
 * (until a seeding has finished: an interrupted one starts again, its stored instances kept as duplicates).
 * Returns how many were stored, or undefined when there was nothing to do.
 */
export async function seedOnFirstStart(config: GatewayConfig): Promise<number | undefined> {
  const [main] = tenantSettings(config);
  if (!main) return undefined;
  return backendOf(main).seedSamples?.(main, config);
}

/** What to try, once it listens: the page, a search, an image, a signed thumbnail, a modality sending. */
export function whatToTry(config: GatewayConfig, httpUrl: string, seeded: number | undefined): string {
  const [main] = tenantSettings(config);
  const base = `${httpUrl}${config.http.basePath}`;
  const ct = IMAGING_FIXTURES.find((f) => f.key === 'ct-signed');
  const image = ct
    ? `${base}/studies/${IMAGING_STUDY.uid}/series/${ct.seriesUid}/instances/${ct.uid}/rendered?annotation=patient,technique&viewport=512,512`
    : '';
  const thumbnail = main
    ? `${httpUrl}${mint(main.auth, 'url', mintTarget(`/studies/${IMAGING_STUDY.uid}/thumbnail`, scopeOf(main)), 3600).value}`
    : '';
  const where = main
    ? `${backendOf(main).describe(main)}${seeded ? ` (seeded now with ${seeded} sample instances)` : ''}`
    : '';
  return [
    '',
    `dicomweb-gateway is serving ${where}.`,
    '',
    ...(config.ui.enabled ? [`  Browse      ${httpUrl}${config.ui.path}`] : []),
    `  Search      curl '${base}/studies?PatientName=doe*'`,
    `  An image    curl -o image.jpg '${image}'`,
    `  Signed      ${thumbnail}`,
    '              (a thumbnail URL valid for 1 h, as an EHR would embed it; npx dicomweb-gateway sign prints others)',
    `  Send        storescu -aec ${config.dimse.aeTitle} 127.0.0.1 ${config.dimse.port} +sd path/to/dicom   (DCMTK; a modality does the same)`,
    '',
    `No credentials are asked: it answers on ${config.http.host} only. Settings: gateway.example.yaml. Stop: Ctrl-C.`,
    '',
  ].join('\n');
}
