import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';

/**
 * Audit records with IHE ATNA semantics (DICOM PS3.15 Annex A.5, event IDs from DCM): who did what to which study,
 * when, with what outcome. Written as JSON lines to a file or stdout, and optionally to a syslog collector as
 * RFC 5424 messages over TCP or TLS (RFC 6587 octet counting, RFC 5425).
 */

export const AuditEvents = {
  query: { id: '110112', name: 'Query', action: 'E' },
  accessed: { id: '110103', name: 'DICOM Instances Accessed', action: 'R' },
  transferred: { id: '110104', name: 'DICOM Instances Transferred', action: 'R' },
  /** Instances received and stored (STOW-RS): Transferred with action C, create (PS3.15 A.5.3.4). */
  stored: { id: '110104', name: 'DICOM Instances Transferred', action: 'C' },
  authentication: { id: '110114', name: 'User Authentication', action: 'E' },
  securityAlert: { id: '110113', name: 'Security Alert', action: 'E' },
} as const;

export type AuditEvent = (typeof AuditEvents)[keyof typeof AuditEvents];

/** Event Outcome Indicator (PS3.15 A.5.3.1): 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export type Outcome = 0 | 4 | 8 | 12;

export interface AuditRecord {
  time: string;
  event: AuditEvent;
  outcome: Outcome;
  who: { subject: string; via: string; address: string; tenant: string };
  what: { study?: string; series?: string; instance?: string; query?: string; instances?: string[] };
  request: { method: string; path: string; status: number };
  reason?: string;
}

export interface AuditSink {
  write(record: AuditRecord): void;
  /** Opens its file again (after logrotate moved it away); a sink with no file does nothing. */
  reopen?(): void;
  close(): Promise<void>;
}

/** Targets that mean standard output rather than a file of that name. */
const STDOUT_TARGETS: ReadonlySet<string> = new Set(['stdout', '-']);

/** JSON lines to a file (appended, mode 600) or to stdout (`stdout` or `-`). */
export class JsonLinesSink implements AuditSink {
  private stream: WriteStream | NodeJS.WriteStream;

  constructor(private readonly target: string) {
    this.stream = this.open();
  }

  private open(): WriteStream | NodeJS.WriteStream {
    return STDOUT_TARGETS.has(this.target)
      ? process.stdout
      : createWriteStream(this.target, { flags: 'a', mode: 0o600 });
  }

  write(record: AuditRecord): void {
    this.stream.write(`${JSON.stringify(record)}\n`);
  }

  /** The file is opened again by name: records go to the new file, what was written stays in the rotated one. */
  reopen(): void {
    if (this.stream === process.stdout) return;
    const old = this.stream as WriteStream;
    this.stream = this.open();
    old.end();
  }

  close(): Promise<void> {
    if (this.stream === process.stdout) return Promise.resolve();
    return new Promise((resolve) => (this.stream as WriteStream).end(resolve));
  }
}

export interface SyslogOptions {
  host: string;
  port: number;
  tls: boolean;
  /** CA certificate (PEM text) for the collector, when it is not signed by a public CA. */
  ca?: string;
  appName: string;
}

/** RFC 5424 facility 10 (security/authorization), severity 5 (notice) or 4 (warning) for failures. */
const priority = (outcome: Outcome): number => 10 * 8 + (outcome === 0 ? 5 : 4);

/** One RFC 5424 message: header, no structured data, the JSON record as MSG (UTF-8 with BOM, §6.4). */
export function syslogMessage(record: AuditRecord, appName: string, hostname = os.hostname()): string {
  const msgId = `ATNA-${record.event.id}`;
  return `<${priority(record.outcome)}>1 ${record.time} ${hostname.slice(0, 255) || '-'} ${appName.slice(0, 48)} ${process.pid} ${msgId} - \ufeff${JSON.stringify(record)}`;
}

/**
 * Syslog over TCP or TLS with octet-counting framing. Reconnects after a failure; while disconnected, keeps at
 * most `maxQueue` messages (dropping the oldest, and counting what it dropped).
 */
export class SyslogSink implements AuditSink {
  private socket: net.Socket | undefined;
  private connecting = false;
  private readonly queue: string[] = [];
  private closed = false;
  dropped = 0;

  constructor(
    private readonly options: SyslogOptions,
    private readonly maxQueue = 10_000,
  ) {}

  write(record: AuditRecord): void {
    const message = syslogMessage(record, this.options.appName);
    const frame = `${Buffer.byteLength(message)} ${message}`;
    if (this.socket && !this.socket.destroyed && !this.connecting) {
      this.socket.write(frame);
      return;
    }
    this.queue.push(frame);
    if (this.queue.length > this.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.connect();
  }

  private connect(): void {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    const { host, port } = this.options;
    const socket = this.options.tls
      ? tls.connect({ host, port, servername: host, ...(this.options.ca ? { ca: this.options.ca } : {}) })
      : net.connect({ host, port });
    const ready = this.options.tls ? 'secureConnect' : 'connect';
    socket.once(ready, () => {
      this.connecting = false;
      this.socket = socket;
      for (const frame of this.queue.splice(0)) socket.write(frame);
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.connecting = false;
      if (this.socket === socket) this.socket = undefined;
      if (this.queue.length && !this.closed) setTimeout(() => this.connect(), 1000).unref();
    });
  }

  close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.end(resolve));
  }
}

/** Several sinks as one. */
export class Audit {
  constructor(private readonly sinks: AuditSink[]) {}

  get enabled(): boolean {
    return this.sinks.length > 0;
  }

  record(record: AuditRecord): void {
    for (const sink of this.sinks) sink.write(record);
  }

  /** Reopens every file sink (SIGHUP, as logrotate's postrotate sends). */
  reopen(): void {
    for (const sink of this.sinks) sink.reopen?.();
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}

/** The sinks the configuration names (none: auditing off). */
export function auditFromConfig(config: {
  file?: string | undefined;
  syslog?: { host: string; port: number; tls: boolean; ca?: string | undefined; appName: string } | undefined;
}): Audit {
  const sinks: AuditSink[] = [];
  if (config.file) sinks.push(new JsonLinesSink(config.file));
  if (config.syslog) {
    const { host, port, tls: useTls, ca, appName } = config.syslog;
    sinks.push(new SyslogSink({ host, port, tls: useTls, appName, ...(ca ? { ca: readFileSync(ca, 'utf8') } : {}) }));
  }
  return new Audit(sinks);
}
