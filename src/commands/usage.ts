/** Each command's synopsis and what it does: `dicomweb-gateway help [COMMAND]` and `COMMAND --help` print them. */
export const COMMANDS = {
  serve: {
    synopsis: 'dicomweb-gateway [serve] [--config FILE] [--insecure]',
    help: 'start the DICOMweb server (the default command); --insecure allows auth.mode none on a non-loopback address',
  },
  start: {
    synopsis: 'dicomweb-gateway start [--config FILE]',
    help: `what npm start runs: without --config, the embedded archive under ./data seeded with the sample
studies on first start, on 127.0.0.1:8080 without credentials; prints what to try`,
  },
  check: {
    synopsis: 'dicomweb-gateway check [--config FILE]',
    help: `check a configuration without starting anything: every problem is listed (exit 2), else the
effective configuration (defaults, then the file, then DICOMWEB_* variables) is printed as JSON with
every secret masked (exit 0)`,
  },
  echo: {
    synopsis: 'dicomweb-gateway echo [--config FILE]',
    help: 'C-ECHO the configured PACS and print the status and round-trip time (exit 2 when no PACS is configured)',
  },
  probe: {
    synopsis: 'dicomweb-gateway probe [--tenant ID] [--json] [--config FILE]',
    help: `what the tenant's PACS supports: C-ECHO, Q/R models and levels, C-FIND extended negotiation, its
implementation, storage transfer syntaxes, and one instance retrieved by C-GET and by C-MOVE to a
Storage SCP lent on dimse.port (whether it echoes the Move Originator); --json for a machine`,
  },
  reindex: {
    synopsis: 'dicomweb-gateway reindex [--config FILE]',
    help: `rebuild the embedded archive's index from its files, for every tenant with an archive (stop the
gateway first: the archive has one writer)`,
  },
  samples: {
    synopsis: 'dicomweb-gateway samples DIR',
    help: 'write the sample studies as DICOM files under DIR',
  },
  import: {
    synopsis: 'dicomweb-gateway import DIR|FILE... [--tenant ID] [--concurrency 4] [--config FILE]',
    help: `store the DICOM files found under DIR (or FILE) into the tenant's embedded archive, or by C-STORE
into its PACS, --concurrency at a time, with progress; non-DICOM files are skipped and counted`,
  },
  prefetch: {
    synopsis: 'dicomweb-gateway prefetch STUDY_UID... [--from-query QUERY] [--tenant ID] [--config FILE]',
    help: `have the running gateway retrieve these studies (or those QUERY matches, e.g. 'PatientID=123')
from its PACS into its cache, with progress`,
  },
  sign: {
    synopsis: 'dicomweb-gateway sign PATH[?QUERY] [--ttl 1h] [--capability] [--tenant ID] [--config FILE]',
    help: `print a signed URL for PATH (relative to http.basePath, or absolute), valid for --ttl (s, m, h, d);
signed URLs open rendered and thumbnail resources only. With --capability, a capability token for
everything under PATH instead; --tenant signs with that tenant's key, PATH relative to its base
({basePath}/tenants/ID)`,
  },
  apikey: {
    synopsis: 'dicomweb-gateway apikey create --id ID [--scopes read,write]',
    help: `make an API key (a machine's credential, sent as "Authorization: Bearer <key>"): the key is printed
once on stdout, and the entry for auth.apiKeys (its id, SHA-256 and scopes — never the key) on stderr`,
  },
  'sop-classes': {
    synopsis: 'dicomweb-gateway sop-classes',
    help: 'print the storage SOP classes the Storage SCP and STOW-RS accept (UID, then name where known)',
  },
  help: {
    synopsis: 'dicomweb-gateway help [COMMAND]',
    help: "this text, or one command's",
  },
} as const;

export type CommandName = keyof typeof COMMANDS;

export const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

const FOOTER = `Every configuration key can also be set with an environment variable, e.g. DICOMWEB_PACS_HOST, or read from
a file with the _FILE suffix (DICOMWEB_AUTH_SIGNING_KEYS_FILE=/run/secrets/keys.json); lists of objects are JSON.
Exit codes: 0 success, 1 runtime failure (e.g. PACS unreachable), 2 invalid usage or configuration.`;

const indent = (text: string): string =>
  text
    .split('\n')
    .map((l) => `        ${l}`)
    .join('\n');

/** The whole usage text. */
export function usage(): string {
  const synopses = Object.values(COMMANDS).map((c) => c.synopsis);
  const helps = Object.entries(COMMANDS).map(([name, c]) => `  ${name}\n${indent(c.help)}`);
  return `usage: ${synopses.join('\n       ')}\n       dicomweb-gateway --version\n\n${helps.join('\n')}\n\n${FOOTER}`;
}

/** One command's usage. */
export const commandUsage = (name: CommandName): string =>
  `usage: ${COMMANDS[name].synopsis}\n\n${COMMANDS[name].help}\n\n${FOOTER}`;
