import { createApiKey } from '../auth/api-keys.js';

const RIGHTS = ['read', 'write', 'sign'] as const;
type Right = (typeof RIGHTS)[number];

/** `apikey create`: a new key on stdout, once, and the configuration entry that holds only its hash on stderr. */
export function createApiKeyCommand(
  id: string,
  scopesText: string,
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): 0 | 2 {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    out.stderr.write(`dicomweb-gateway: --id ${id}: letters, digits, _ and -, at most 64\n`);
    return 2;
  }
  const scopes = scopesText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(RIGHTS as readonly string[]).includes(s));
  if (!scopes.length || unknown.length) {
    out.stderr.write(`dicomweb-gateway: --scopes ${scopesText}: give some of ${RIGHTS.join(', ')}, comma-separated\n`);
    return 2;
  }
  const { key, sha256 } = createApiKey(id);
  out.stdout.write(`${key}\n`);
  const entry = { id, sha256, scopes: scopes as Right[] };
  out.stderr.write(
    `the key above is shown once; give it to the client and add this entry to auth.apiKeys:\n  - ${JSON.stringify(entry)}\n`,
  );
  return 0;
}
