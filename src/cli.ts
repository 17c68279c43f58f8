#!/usr/bin/env -S node --max-semi-space-size=4
// V8 grows each thread's young generation to 3 × 16 MiB under allocation pressure (ingest, retrieval): 4 MiB semi
// spaces keep ~30 MB off peak RSS at the same ingest rate (docs/conformance.md §8.2). npm start passes the same flags.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configErrorOf, loadConfig, maskedConfig, ConfigError } from './config/load.js';
import { commandUsage, isCommand, usage, type CommandName } from './commands/usage.js';
import { createApiKeyCommand } from './commands/apikey-command.js';
import { sopClassLines } from './commands/sop-classes-command.js';
import { acceptsSignedUrl } from './auth/signed-url.js';
import { FormatError } from './sqlite-format.js';
import { gatewayVersion } from './version.js';
import { silentLogger } from './logger.js';
import type { GatewayConfig } from './config/schema.js';
import { startGateway, startProblems } from './gateway.js';
import { mint, mintTarget, MintError, parseTtl } from './auth/mint.js';
import { scopeOf, tenantSettings, type TenantSettings } from './tenant-settings.js';
import { backendOf } from './backends/registry.js';
import { BACKEND_KINDS } from './backends/kinds.js';
import { importCommand } from './commands/import-command.js';
import { prefetchCommand } from './commands/prefetch-command.js';
import { DimseNetworkError } from './dimse-bridge/errors.js';
import { statusHex } from './dicom/status.js';
import { QUICK_START_DEFAULTS, seedOnFirstStart, whatToTry, withRunSigningKey } from './quick-start.js';
import { writeSamples } from './samples/samples.js';

/** Positional arguments each command takes, its own name included. */
const ARITY: Record<CommandName, number> = {
  serve: 1,
  start: 1,
  check: 1,
  echo: 1,
  probe: 1,
  reindex: 1,
  samples: 2,
  import: Infinity,
  prefetch: Infinity,
  sign: 2,
  apikey: 2,
  'sop-classes': 1,
  help: 2,
};

function fail(code: number, message: string): never {
  process.stderr.write(`dicomweb-gateway: ${message}\n`);
  process.exit(code);
}

async function serve(config: GatewayConfig, allowInsecure: boolean, quickStart = false): Promise<void> {
  let gateway;
  let seeded: number | undefined;
  try {
    if (quickStart) seeded = await seedOnFirstStart(config);
    gateway = await startGateway(config, { allowInsecure });
  } catch (err) {
    // A data directory of a newer version is the configuration's to change (exit 2: systemd does not restart).
    if (err instanceof ConfigError || err instanceof FormatError) fail(2, err.message);
    throw err;
  }
  const [main] = tenantSettings(config) as [TenantSettings, ...TenantSettings[]];
  gateway.app.log.info(
    { url: `${gateway.httpUrl}${config.http.basePath}`, backend: config.backend, ...backendOf(main).identity(main) },
    'dicomweb-gateway ready',
  );
  if (quickStart) process.stdout.write(whatToTry(config, gateway.httpUrl, seeded));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    gateway.app.log.info({ signal }, 'shutting down');
    // Responses still streaming get 10 s; then the process ends regardless (a stalled client must not hold it).
    setTimeout(() => {
      gateway.app.log.warn('shutdown took over 10 s; exiting');
      process.exit(1);
    }, 10_000).unref();
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // logrotate's postrotate (or systemctl reload): the audit file is opened again by name.
  process.on('SIGHUP', () => {
    gateway.reopenFiles();
    gateway.app.log.info('SIGHUP: audit file reopened');
  });
}

function reindex(config: GatewayConfig): void {
  const archives = tenantSettings(config).flatMap((t) => {
    const rebuild = backendOf(t).reindex;
    // A federation keeps an index only with an embedded member.
    return rebuild && BACKEND_KINDS[t.backend].keepsArchive(t) ? [{ t, rebuild }] : [];
  });
  if (archives.length === 0) fail(2, 'no tenant keeps an index of its own (every tenant is in front of a PACS)');
  for (const { t, rebuild } of archives) {
    const started = performance.now();
    const { instances, skipped } = rebuild(t, config);
    process.stdout.write(
      `tenant ${t.id}: ${instances} instance(s) indexed from ${t.archive.dir} in ${((performance.now() - started) / 1000).toFixed(1)} s${skipped ? `; ${skipped} file(s) that do not parse skipped` : ''}\n`,
    );
  }
}

async function echo(tenant: TenantSettings): Promise<void> {
  const module = backendOf(tenant);
  if (!module.echo)
    fail(2, `echo: tenant ${tenant.id} is served by ${module.describe(tenant)}: there is no PACS to C-ECHO`);
  const results = await module.echo(tenant);
  for (const r of results) {
    if ('error' in r) process.stderr.write(`C-ECHO ${r.target} failed: ${r.error}\n`);
    else
      process.stdout.write(
        `C-ECHO ${r.target}: status ${statusHex(r.status)}${r.status === 0 ? ' (Success)' : ''}, round trip ${r.roundTripMs.toFixed(2)} ms (association ${r.associationMs.toFixed(1)} ms)\n`,
      );
  }
  process.exit(results.every((r) => 'status' in r && r.status === 0) ? 0 : 1);
}

/** `probe`: what the tenant's PACS supports (models and levels, C-GET, C-MOVE and its originator, extended negotiation, storage syntaxes), read-only. */
async function probe(tenant: TenantSettings, json: boolean): Promise<void> {
  const module = backendOf(tenant);
  if (!module.probe)
    fail(2, `tenant ${tenant.id} has no PACS (it is served by ${module.describe(tenant)}): nothing to probe`);
  try {
    const { report, text } = await module.probe(tenant, silentLogger);
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : text);
  } catch (err) {
    const message = err instanceof DimseNetworkError || err instanceof Error ? err.message : String(err);
    fail(1, `probing ${module.describe(tenant)} failed: ${message}`);
  }
}

function sign(
  config: GatewayConfig,
  target: string | undefined,
  options: { ttl: string; capability: boolean; tenant: string },
): void {
  if (!target) fail(2, `sign needs a path\n${commandUsage('sign')}`);
  const ttl = parseTtl(options.ttl);
  if (ttl === undefined) fail(2, `--ttl ${options.ttl}: give seconds or a number with s, m, h or d`);
  const tenant = tenantSettings(config).find((t) => t.id === options.tenant);
  if (!tenant)
    fail(
      2,
      `--tenant ${options.tenant}: no such tenant (configured: ${tenantSettings(config)
        .map((t) => t.id)
        .join(', ')})`,
    );
  const capability = options.capability;
  try {
    const path = mintTarget(target, scopeOf(tenant));
    // A signed URL opens what an <img> loads, nothing else (docs/security.md): minting one for another resource
    // would hand out a URL that answers 401.
    if (!capability && !acceptsSignedUrl(path.split('?')[0] ?? '')) {
      fail(
        2,
        `${target}: signed URLs open rendered and thumbnail resources only; for this resource mint a capability (--capability) or use a bearer token`,
      );
    }
    const { value, expires } = mint(tenant.auth, capability ? 'capability' : 'url', path, ttl);
    const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
    const scheme = config.http.tls ? 'https' : 'http';
    const origin = config.http.publicUrl?.replace(/\/+$/, '') ?? `${scheme}://${host}:${config.http.port}`;
    process.stdout.write(`${capability ? value : `${origin}${value}`}\n`);
    process.stderr.write(`valid until ${new Date(expires * 1000).toISOString()}\n`);
  } catch (err) {
    if (err instanceof MintError) fail(2, err.message);
    throw err;
  }
}

async function main(): Promise<void> {
  // The gateway writes, fsyncs and reads many files at once; libuv's default of 4 threads queues C-STORE
  // commits behind HTTP reads (measured: cold WADO 2.98 s → 2.51 s with 16). Must precede the first fs call.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        insecure: { type: 'boolean' },
        ttl: { type: 'string', default: '1h' },
        capability: { type: 'boolean' },
        tenant: { type: 'string', default: 'default' },
        concurrency: { type: 'string', default: '4' },
        'from-query': { type: 'string' },
        json: { type: 'boolean' },
        id: { type: 'string' },
        scopes: { type: 'string', default: 'read' },
      },
    });
  } catch (err) {
    fail(2, `${(err as Error).message}\n${usage()}`);
  }
  const first = parsed.positionals[0];
  if (parsed.values.help || first === 'help') {
    // `help COMMAND`, `COMMAND --help`: that command's usage; `help`, `--help`: all of it.
    const topic = first === 'help' ? parsed.positionals[1] : first;
    if (topic !== undefined && !isCommand(topic)) fail(2, `help: no command "${topic}"\n${usage()}`);
    process.stdout.write(`${topic ? commandUsage(topic) : usage()}\n`);
    return;
  }
  if (parsed.values.version) {
    process.stdout.write(`dicomweb-gateway ${gatewayVersion()}\n`);
    return;
  }
  const command = first ?? 'serve';
  if (!isCommand(command)) fail(2, `unknown command "${parsed.positionals.join(' ')}"\n${usage()}`);
  if (parsed.positionals.length > ARITY[command])
    fail(2, `${command}: too many arguments (${parsed.positionals.slice(1).join(' ')})\n${commandUsage(command)}`);
  if (command === 'samples') {
    const dir = parsed.positionals[1];
    if (!dir) fail(2, `samples needs a directory\n${commandUsage('samples')}`);
    process.stdout.write(`wrote ${writeSamples(dir)} sample instances under ${dir}\n`);
    return;
  }
  if (command === 'sop-classes') {
    process.stdout.write(`${sopClassLines().join('\n')}\n`);
    return;
  }
  if (command === 'apikey') {
    if (parsed.positionals[1] !== 'create' || !parsed.values.id) fail(2, commandUsage('apikey'));
    process.exitCode = createApiKeyCommand(parsed.values.id, parsed.values.scopes ?? 'read', {
      stdout: process.stdout,
      stderr: process.stderr,
    });
    return;
  }
  const quickStart = command === 'start' && !parsed.values.config;
  let config: GatewayConfig;
  try {
    config = loadConfig({
      ...(parsed.values.config ? { file: parsed.values.config } : {}),
      ...(quickStart ? { defaults: QUICK_START_DEFAULTS } : {}),
      onWarning: (message) => process.stderr.write(`dicomweb-gateway: warning: ${message}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) fail(2, err.message);
    throw err;
  }
  if (command === 'check') {
    const problems = startProblems(config, { allowInsecure: parsed.values.insecure === true });
    if (problems.length) fail(2, configErrorOf(problems).message);
    process.stdout.write(`${JSON.stringify(maskedConfig(config), null, 2)}\n`);
    process.stderr.write('the configuration is valid\n');
    return;
  }
  if (quickStart) config = withRunSigningKey(config);
  const tenantOf = (): TenantSettings => {
    const t = tenantSettings(config).find((s) => s.id === (parsed.values.tenant ?? 'default'));
    if (!t)
      fail(
        2,
        `--tenant ${parsed.values.tenant}: no such tenant (configured: ${tenantSettings(config)
          .map((s) => s.id)
          .join(', ')})`,
      );
    return t;
  };
  if (command === 'import') {
    const paths = parsed.positionals.slice(1);
    const concurrency = Number(parsed.values.concurrency);
    if (paths.length === 0) fail(2, `import needs a directory or a file\n${commandUsage('import')}`);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
      fail(2, `--concurrency ${parsed.values.concurrency}: give a whole number from 1 to 64`);
    const missing = paths.find((p) => !existsSync(p));
    if (missing) fail(2, `import: ${missing} does not exist`);
    process.exitCode = await importCommand(
      config,
      tenantOf(),
      paths,
      { concurrency },
      { stdout: process.stdout, stderr: process.stderr },
    );
    return;
  }
  if (command === 'prefetch') {
    process.exitCode = await prefetchCommand(
      config,
      tenantOf(),
      {
        studies: parsed.positionals.slice(1),
        ...(parsed.values['from-query'] ? { query: parsed.values['from-query'] } : {}),
      },
      { stdout: process.stdout, stderr: process.stderr },
    );
    return;
  }
  if (command === 'probe') await probe(tenantOf(), parsed.values.json === true);
  else if (command === 'echo') await echo(tenantOf());
  else if (command === 'reindex') reindex(config);
  else if (command === 'sign')
    sign(config, parsed.positionals[1], {
      ttl: parsed.values.ttl ?? '1h',
      capability: parsed.values.capability === true,
      tenant: parsed.values.tenant ?? 'default',
    });
  else await serve(config, parsed.values.insecure === true, quickStart);
}

main().catch((err: unknown) => fail(1, err instanceof Error ? (err.stack ?? err.message) : String(err)));
