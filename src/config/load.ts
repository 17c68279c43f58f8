import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';

/**
 * A configuration that cannot be used; the CLI exits with code 2 and prints `message`. `problems` lists each
 * thing wrong (a configuration is checked whole, so that an operator mends it in one pass).
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = [message]) {
    super(message);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Several problems as one ConfigError: the first on the message's first line, every one below it. */
export function configErrorOf(problems: readonly string[]): ConfigError {
  const lines = problems.map((p) => `invalid configuration: ${p}`);
  return new ConfigError(
    lines.length === 1 ? (lines[0] ?? '') : `${lines.length} problems:\n  ${lines.join('\n  ')}`,
    problems,
  );
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
  if (code === 'EADDRINUSE')
    return new ConfigError(`${host}:${port} is already in use: set ${key} (${envNameOf(key)}) to a free port`);
  if (code === 'EACCES')
    return new ConfigError(
      `${host}:${port} may not be bound by this user: set ${key} (${envNameOf(key)}) to a port above 1023`,
    );
  if (code === 'EADDRNOTAVAIL')
    return new ConfigError(
      `${host} is not an address of this machine: set ${key.replace(/port$/, 'host')} (${envNameOf(key.replace(/port$/, 'host'))})`,
    );
  return err;
}

type LeafKind = 'string' | 'number' | 'boolean' | 'array' | 'objects' | 'size';
interface Leaf {
  path: string[];
  env: string;
  kind: LeafKind;
}

const snake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional)
      s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else return s;
  }
}

function leafKind(schema: z.ZodType): LeafKind {
  const s = unwrap(schema);
  if (s instanceof z.ZodNumber) return 'number';
  if (s instanceof z.ZodBoolean) return 'boolean';
  if (s instanceof z.ZodArray) return unwrap(s.element as z.ZodType) instanceof z.ZodObject ? 'objects' : 'array';
  if (s instanceof z.ZodUnion) return 'size';
  return 'string';
}

/**
 * A key that takes one of several shapes (`pacs`: one PACS or a list) fails as a whole; what was wrong is said by
 * the shape the value has — of the branches that did not fail at its root for want of the right type, the one
 * with fewest problems.
 */
function branchIssues(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const shaped = issue.errors
    .filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0))
    .sort((a, b) => a.length - b.length)[0];
  if (!shaped) return [issue];
  return shaped.flatMap((i) => branchIssues({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue));
}

/** Every configuration key with its environment variable: `pacs.maxAssociations` ↔ DICOMWEB_PACS_MAX_ASSOCIATIONS. */
export function configLeaves(schema: z.ZodType = configSchema, path: string[] = []): Leaf[] {
  const s = unwrap(schema);
  // Maps keyed by name (tenants) are configured in the file only.
  if (s instanceof z.ZodRecord) return [];
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
      configLeaves(child, [...path, key]),
    );
  }
  // One object or a list of them (`pacs`): the object's keys each, and the whole list as JSON.
  const options = s instanceof z.ZodUnion ? (s.options as z.ZodType[]).map(unwrap) : [];
  const object = options.find((o) => o instanceof z.ZodObject);
  const list = options.find((o) => o instanceof z.ZodArray);
  if (object && list)
    return [...configLeaves(object, path), { path, env: envNameOf(path.join('.')), kind: leafKind(list) }];
  return [{ path, env: envNameOf(path.join('.')), kind: leafKind(s) }];
}

/**
 * Keys whose values are credentials: never echoed in an error, masked where the configuration is printed. A
 * public key or a file path is no secret; a signing secret and an API key's hash are.
 */
const SECRET_KEYS: ReadonlySet<string> = new Set(['secret', 'sha256']);
/** Keys whose values may hold a credential, by their whole path (a URL with a password). */
const SECRET_PATHS: ReadonlySet<string> = new Set(['redis.url']);
/** Keys whose values hold credentials among other things (a list of signing keys). */
const HOLDING_SECRETS: ReadonlySet<string> = new Set(['signingKeys', 'apiKeys']);

/** Whether the key at `path` holds a credential, or a structure with one in it. */
const holdsSecret = (path: readonly string[]): boolean =>
  path.some((k) => SECRET_KEYS.has(k) || HOLDING_SECRETS.has(k)) || SECRET_PATHS.has(path.join('.'));

/** A JSON value given for a structured key (a list of objects, or a list as `["a","b"]`). */
function parseJson(leaf: Leaf, raw: string, shown: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new ConfigError(`${shown}: ${leaf.path.join('.')} is not valid JSON (${(err as Error).message})`);
  }
}

function coerce(leaf: Leaf, raw: string, source: string): unknown {
  // A secret's value is never repeated back (it would land in the journal of a failed start).
  const shown = holdsSecret(leaf.path) ? source : `${source}=${raw}`;
  switch (leaf.kind) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new ConfigError(`${shown}: ${leaf.path.join('.')} must be a number`);
      return n;
    }
    case 'boolean':
      if (!/^(true|false|1|0)$/i.test(raw))
        throw new ConfigError(`${shown}: ${leaf.path.join('.')} must be true or false`);
      return /^(true|1)$/i.test(raw);
    case 'array':
      if (raw.trim().startsWith('[')) return parseJson(leaf, raw, shown);
      return raw
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
    case 'objects':
      // A list of objects has no comma-separated form: JSON, e.g. [{"kid":"k1","secret":"…"}].
      if (!raw.trim().startsWith('['))
        throw new ConfigError(
          `${shown}: ${leaf.path.join('.')} is a list of objects: give it as JSON, e.g. [{"name": "value"}]`,
        );
      return parseJson(leaf, raw, shown);
    case 'size':
      return /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    default:
      return raw;
  }
}

/** The suffix of a variable that names a file holding the value (Docker/Kubernetes secrets, systemd LoadCredential=). */
export const FILE_SUFFIX = '_FILE';

/**
 * The value of a key from the environment: `NAME`, or the content of the file `NAME_FILE` names (one trailing
 * newline dropped, as `echo` and editors leave one). Both at once is a mistake, not a precedence.
 */
function envValue(leaf: Leaf, env: NodeJS.ProcessEnv): { raw: string; source: string } | undefined {
  const direct = env[leaf.env];
  const fileName = env[leaf.env + FILE_SUFFIX];
  if (fileName === undefined) return direct === undefined ? undefined : { raw: direct, source: leaf.env };
  if (direct !== undefined)
    throw new ConfigError(
      `${leaf.env} and ${leaf.env}${FILE_SUFFIX} are both set: give ${leaf.path.join('.')} one way`,
    );
  try {
    return {
      raw: readFileSync(fileName, 'utf8').replace(/\r?\n$/, ''),
      source: `${leaf.env}${FILE_SUFFIX} (${fileName})`,
    };
  } catch (err) {
    throw new ConfigError(
      `${leaf.env}${FILE_SUFFIX}: cannot read ${fileName}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
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
    const isObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v);
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
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`config file ${file} must hold a mapping of sections (http, dimse, pacs, cache, ...)`);
  return parsed as Record<string, unknown>;
}

/**
 * A configuration key that was renamed. The rule (CHANGELOG.md): a renamed key keeps working, with a warning
 * naming its new name, for one minor version after the rename; only then is it refused like any unknown key.
 */
export interface RenamedKey {
  from: string;
  to: string;
  /** The version that stops taking the old name. */
  until: string;
}

/** Every configuration key renamed and still taken under its old name (none since 0.1.0). */
export const RENAMED_KEYS: readonly RenamedKey[] = [];

const pathOf = (key: string): string[] => key.split('.');

function getPath(target: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = target;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function deletePath(target: Record<string, unknown>, path: readonly string[]): void {
  const parent = getPath(target, path.slice(0, -1));
  if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[path[path.length - 1] as string];
}

/**
 * Moves values given under an old key name to the new one, in the file and in the environment, and says so;
 * a value under both names is a mistake, not a precedence.
 */
function applyRenames(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  renames: readonly RenamedKey[],
  warn: (message: string) => void,
): NodeJS.ProcessEnv {
  const renamedEnv: NodeJS.ProcessEnv = { ...env };
  for (const { from, to, until } of renames) {
    const old = getPath(raw, pathOf(from));
    if (old !== undefined) {
      if (getPath(raw, pathOf(to)) !== undefined)
        throw new ConfigError(
          `invalid configuration: ${from} and ${to} are both set: ${from} is the old name of ${to}; keep ${to}`,
        );
      deletePath(raw, pathOf(from));
      setPath(raw, pathOf(to), old);
      warn(`${from} is now ${to}; the old name is taken until version ${until}: rename it in the configuration file`);
    }
    for (const suffix of ['', FILE_SUFFIX]) {
      const oldName = envNameOf(from) + suffix;
      if (renamedEnv[oldName] === undefined) continue;
      const newName = envNameOf(to) + suffix;
      if (renamedEnv[newName] !== undefined)
        throw new ConfigError(`invalid configuration: ${oldName} and ${newName} are both set: keep ${newName}`);
      renamedEnv[newName] = renamedEnv[oldName];
      delete renamedEnv[oldName];
      warn(`${oldName} is now ${newName}; the old name is taken until version ${until}`);
    }
  }
  return renamedEnv;
}

/** Where an issue of the schema is, as an operator writes the key. */
const issueKey = (path: readonly PropertyKey[]): string => (path.length ? path.map(String).join('.') : '(top level)');

/**
 * Loads the configuration: the schema's defaults, then `defaults`, then the file (if any), then DICOMWEB_*
 * environment variables (or `DICOMWEB_*_FILE`, a file holding the value). Throws a ConfigError listing every
 * bad key and why.
 */
export function loadConfig(
  options: {
    file?: string;
    env?: NodeJS.ProcessEnv;
    defaults?: Record<string, unknown>;
    /** Told of each key given under an old name (RENAMED_KEYS). */
    onWarning?: (message: string) => void;
    renames?: readonly RenamedKey[];
  } = {},
): GatewayConfig {
  const raw: Record<string, unknown> = structuredClone(options.defaults ?? {});
  if (options.file) mergeInto(raw, readConfigFile(options.file));
  const env = applyRenames(
    raw,
    options.env ?? process.env,
    options.renames ?? RENAMED_KEYS,
    options.onWarning ?? (() => {}),
  );
  const known = new Set<string>();
  const problems: string[] = [];
  for (const leaf of configLeaves()) {
    known.add(leaf.env).add(leaf.env + FILE_SUFFIX);
    try {
      const value = envValue(leaf, env);
      if (value !== undefined) setPath(raw, leaf.path, coerce(leaf, value.raw, value.source));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err.message);
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name))
      problems.push(`${name}: no such configuration key (see README "Configuration")`);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues.flatMap(branchIssues))
      problems.push(`${issueKey(issue.path)}: ${issue.message}`);
  }
  if (problems.length || !result.success) throw configErrorOf(problems);
  return result.data;
}

/** The configuration as it will be used, with every credential replaced by `***` (for `check`). */
export function maskedConfig(value: unknown, path: (string | number)[] = []): unknown {
  if (Array.isArray(value)) return value.map((v, i) => maskedConfig(v, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskedConfig(v, [...path, k])]));
  }
  const secret = SECRET_KEYS.has(String(path[path.length - 1])) || SECRET_PATHS.has(path.join('.'));
  return secret && value !== undefined ? '***' : value;
}
