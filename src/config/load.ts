import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';

/** A configuration that cannot be used; the CLI exits with code 2 and prints `message`. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const ENV_PREFIX = 'DICOMWEB_';

/** The environment variable of a configuration key: `http.port` → DICOMWEB_HTTP_PORT. */
export const envNameOf = (key: string): string => ENV_PREFIX + key.split('.').map(snake).join('_');

/**
 * A listen failure as the operator can act on it: EADDRINUSE/EACCES become a ConfigError naming the key (and its
 * environment variable) to change; anything else is returned as it is.
 */
export function listenProblem(err: unknown, key: string, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return new ConfigError(`${host}:${port} is already in use: set ${key} (${envNameOf(key)}) to a free port`);
  if (code === 'EACCES') return new ConfigError(`${host}:${port} may not be bound by this user: set ${key} (${envNameOf(key)}) to a port above 1023`);
  if (code === 'EADDRNOTAVAIL') return new ConfigError(`${host} is not an address of this machine: set ${key.replace(/port$/, 'host')} (${envNameOf(key.replace(/port$/, 'host'))})`);
  return err;
}

type LeafKind = 'string' | 'number' | 'boolean' | 'array' | 'size';
interface Leaf { path: string[]; env: string; kind: LeafKind }

const snake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else return s;
  }
}

function leafKind(schema: z.ZodType): LeafKind {
  const s = unwrap(schema);
  if (s instanceof z.ZodNumber) return 'number';
  if (s instanceof z.ZodBoolean) return 'boolean';
  if (s instanceof z.ZodArray) return 'array';
  if (s instanceof z.ZodUnion) return 'size';
  return 'string';
}

/** Every configuration key with its environment variable: `pacs.maxAssociations` ↔ DICOMWEB_PACS_MAX_ASSOCIATIONS. */
export function configLeaves(schema: z.ZodType = configSchema, path: string[] = []): Leaf[] {
  const s = unwrap(schema);
  // Maps keyed by name (tenants) are configured in the file only.
  if (s instanceof z.ZodRecord) return [];
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) => configLeaves(child, [...path, key]));
  }
  return [{ path, env: envNameOf(path.join('.')), kind: leafKind(s) }];
}

function coerce(leaf: Leaf, raw: string): unknown {
  switch (leaf.kind) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${leaf.env}=${raw}: ${leaf.path.join('.')} must be a number`);
      return n;
    }
    case 'boolean':
      if (!/^(true|false|1|0)$/i.test(raw)) throw new ConfigError(`${leaf.env}=${raw}: ${leaf.path.join('.')} must be true or false`);
      return /^(true|1)$/i.test(raw);
    case 'array':
      return raw.split(',').map((v) => v.trim()).filter((v) => v !== '');
    case 'size':
      return /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** Deep-merges `from` into `into`: objects key by key, anything else (arrays included) replaced. */
function mergeInto(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const here = into[key];
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isObject(here) && isObject(value)) mergeInto(here, value);
    else into[key] = value;
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text); // YAML is a superset of JSON: one parser for both
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold a mapping of sections (http, dimse, pacs, cache, ...)`);
  return parsed as Record<string, unknown>;
}

/**
 * Loads the configuration: the schema's defaults, then `defaults`, then the file (if any), then DICOMWEB_*
 * environment variables. Throws ConfigError naming the first bad key and why.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; defaults?: Record<string, unknown> } = {}): GatewayConfig {
  const raw: Record<string, unknown> = structuredClone(options.defaults ?? {});
  if (options.file) mergeInto(raw, readConfigFile(options.file));
  const env = options.env ?? process.env;
  const known = new Set<string>();
  for (const leaf of configLeaves()) {
    known.add(leaf.env);
    const value = env[leaf.env];
    if (value !== undefined) setPath(raw, leaf.path, coerce(leaf, value));
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name)) throw new ConfigError(`${name}: no such configuration key (see README "Configuration")`);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(top level)';
    throw new ConfigError(`invalid configuration: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}
