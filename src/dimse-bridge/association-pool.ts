import type tls from 'node:tls';
import { Association, type Implementation } from './association.js';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { tracer } from '../tracing/tracing.js';
import { DimseClient } from './dimse-client.js';
import { PoolExhaustedError } from './errors.js';
import { SopClass } from './sop-classes.js';
import type { ExtendedNegotiation, RoleSelection } from './pdu.js';
import { UNCOMPRESSED_TRANSFER_SYNTAXES } from '../dicom/transfer-syntax.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { AssociationBudget } from '../shared-state/association-budget.js';

/**
 * Which extended negotiation an association carries. Fuzzy semantic matching of person names is negotiated
 * per association (PS3.4 §C.5.1.1, Table C.5-1, byte 3), so fuzzy and plain queries use separate associations.
 */
export type AssociationProfile = 'plain' | 'fuzzy';

/** An association opened for one operation with its own presentation contexts (e.g. C-GET), never reused. */
export interface DedicatedAssociation {
  presentationContexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  roleSelections?: RoleSelection[];
}

type Want = AssociationProfile | DedicatedAssociation;

export interface PeerAddress {
  host: string;
  port: number;
  aeTitle: string;
}

export interface PoolOptions {
  peer: PeerAddress;
  callingAeTitle: string;
  maxAssociations: number;
  queueLimit: number;
  queueTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  artimTimeoutMs: number;
  responseTimeoutMs: number;
  maxPduLength: number;
  implementation: Implementation;
  localAddress?: string;
  tls?: tls.ConnectionOptions;
  logger?: Logger;
  /**
   * The PACS's budget shared with other replicas: a permit per open association, taken before it opens and
   * given back when it closes (absent: `maxAssociations` alone is the budget).
   */
  budget?: AssociationBudget;
}

/** A borrowed association. Call `release()` exactly once; pass false when the association must not be reused. */
export interface Lease {
  readonly client: DimseClient;
  readonly fuzzyMatchingGranted: boolean;
  release(reusable?: boolean): void;
}

interface Idle {
  client: DimseClient;
  profile: AssociationProfile;
  timer: NodeJS.Timeout;
}

interface Waiter {
  profile: Want;
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Study Root C-FIND extended negotiation (PS3.4 §C.5.1.1): bytes relational, date-time, fuzzy PN; we ask only for fuzzy. */
const FUZZY_NEGOTIATION: ExtendedNegotiation = {
  sopClassUid: SopClass.StudyRootFind,
  applicationInfo: Buffer.from([0, 0, 1]),
};

/** Abstract syntaxes of the query/retrieve associations. */
const QUERY_CONTEXTS = [SopClass.Verification, SopClass.StudyRootFind, SopClass.StudyRootMove];

export interface PoolStats {
  open: number;
  idle: number;
  busy: number;
  waiting: number;
  max: number;
  /** Requests refused since start: the queue was full, or no association became free in time (503). */
  refused: number;
}

/**
 * Associations to one PACS, reused for consecutive operations, at most `maxAssociations` at once; callers
 * beyond that wait in a bounded FIFO queue and get PoolExhaustedError (→ 503 + Retry-After) when it is full
 * or their wait times out.
 */
export class AssociationPool {
  private readonly idle: Idle[] = [];
  private readonly waiters: Waiter[] = [];
  private open = 0;
  private refused = 0;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly options: PoolOptions) {
    this.log = (options.logger ?? silentLogger).child({
      pacs: `${options.peer.aeTitle}@${options.peer.host}:${options.peer.port}`,
    });
    // Another replica waits for the PACS's budget: idle associations here give their permits up.
    options.budget?.onOthersWaiting(() => this.closeIdle());
  }

  stats(): PoolStats {
    return {
      open: this.open,
      idle: this.idle.length,
      busy: this.open - this.idle.length,
      waiting: this.waiters.length,
      max: this.options.maxAssociations,
      refused: this.refused,
    };
  }

  async acquire(profile: Want = 'plain'): Promise<Lease> {
    if (this.closed) throw new PoolExhaustedError('the association pool is shut down', 1);
    const reused = typeof profile === 'string' ? this.takeIdle(profile) : undefined;
    if (reused) return this.lease(reused, profile);
    if (this.open < this.options.maxAssociations || this.evictIdleOfOtherProfile(profile)) return this.openNew(profile);
    if (this.waiters.length >= this.options.queueLimit) {
      this.refused++;
      throw new PoolExhaustedError(
        `${this.options.maxAssociations} associations in use and ${this.waiters.length} requests already waiting`,
        this.retryAfterSeconds(),
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        profile,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.refused++;
          reject(
            new PoolExhaustedError(
              `no association became free within ${this.options.queueTimeoutMs} ms`,
              this.retryAfterSeconds(),
            ),
          );
        }, this.options.queueTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Runs `fn` with a leased client; the lease is released afterwards, reusable unless `fn` threw a network error. */
  async with<T>(profile: Want, fn: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = await this.acquire(profile);
    try {
      const result = await fn(lease);
      lease.release(true);
      return result;
    } catch (err) {
      lease.release(lease.client.association.isOpen);
      throw err;
    }
  }

  /** Releases idle associations and refuses new work. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new PoolExhaustedError('the association pool is shut down', 1));
    }
    await Promise.allSettled(
      this.idle.splice(0).map((i) => {
        clearTimeout(i.timer);
        this.open--;
        return i.client.association.release();
      }),
    );
  }

  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.options.queueTimeoutMs / 2000));
  }

  private takeIdle(profile: AssociationProfile): DimseClient | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const entry = this.idle[i] as Idle;
      if (entry.profile !== profile) continue;
      this.idle.splice(i, 1);
      clearTimeout(entry.timer);
      if (entry.client.isUsable) return entry.client;
      this.open--;
      entry.client.association.abort();
    }
    return undefined;
  }

  private evictIdleOfOtherProfile(profile: Want): boolean {
    const i = this.idle.findIndex((e) => e.profile !== profile);
    if (i < 0) return false;
    const [entry] = this.idle.splice(i, 1) as [Idle];
    clearTimeout(entry.timer);
    this.open--;
    void entry.client.association.release().catch(() => {});
    return true;
  }

  private async openNew(profile: Want): Promise<Lease> {
    this.open++;
    try {
      const client = await this.connect(profile);
      return this.lease(client, profile);
    } catch (err) {
      this.open--;
      this.serveWaiters();
      throw err;
    }
  }

  private async connect(profile: Want): Promise<DimseClient> {
    const o = this.options;
    const permit = o.budget ? await o.budget.acquire(o.queueTimeoutMs) : undefined;
    if (o.budget && !permit) {
      this.refused++;
      throw new PoolExhaustedError(
        `the PACS's ${o.maxAssociations} associations are in use across the gateway's replicas (none free within ${o.queueTimeoutMs} ms)`,
        this.retryAfterSeconds(),
      );
    }
    try {
      const client = await this.request(profile);
      void client.association.closed.then(() => permit?.release());
      return client;
    } catch (err) {
      permit?.release();
      throw err;
    }
  }

  private async request(profile: Want): Promise<DimseClient> {
    const o = this.options;
    const dedicated = typeof profile === 'string' ? undefined : profile;
    // A span of its own (OpenTelemetry), under the operation that needed it: connect and negotiation.
    const span = tracer().startSpan('A-ASSOCIATE', {
      kind: SpanKind.CLIENT,
      attributes: {
        'dicom.called_ae_title': o.peer.aeTitle,
        'server.address': o.peer.host,
        'server.port': o.peer.port,
      },
    });
    const association = await Association.request({
      host: o.peer.host,
      port: o.peer.port,
      calledAeTitle: o.peer.aeTitle,
      callingAeTitle: o.callingAeTitle,
      presentationContexts:
        dedicated?.presentationContexts ??
        QUERY_CONTEXTS.map((abstractSyntax) => ({
          abstractSyntax,
          transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES],
        })),
      ...(dedicated?.roleSelections ? { roleSelections: dedicated.roleSelections } : {}),
      extendedNegotiations: profile === 'fuzzy' ? [FUZZY_NEGOTIATION] : [],
      implementation: o.implementation,
      maxPduLength: o.maxPduLength,
      timeouts: { connectMs: o.connectTimeoutMs, artimMs: o.artimTimeoutMs },
      ...(o.tls ? { tls: o.tls } : {}),
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      logger: this.log,
    }).then(
      (a) => {
        span.setAttribute('dicom.accepted_contexts', a.acceptedContexts.size);
        span.end();
        return a;
      },
      (err: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
        throw err;
      },
    );
    const client = new DimseClient(association, { responseTimeoutMs: o.responseTimeoutMs, logger: this.log });
    void association.closed.then(() => this.forget(client));
    return client;
  }

  private lease(client: DimseClient, profile: Want): Lease {
    let released = false;
    const fuzzyMatchingGranted =
      profile === 'fuzzy' &&
      client.association.peerExtendedNegotiations.some(
        (n) => n.sopClassUid === SopClass.StudyRootFind && n.applicationInfo.length >= 3 && n.applicationInfo[2] === 1,
      );
    return {
      client,
      fuzzyMatchingGranted,
      release: (reusable = true) => {
        if (released) return;
        released = true;
        void client.whenIdle().then(() => this.giveBack(client, profile, reusable));
      },
    };
  }

  private giveBack(client: DimseClient, profile: Want, reusable: boolean): void {
    if (!reusable || !client.isUsable || this.closed || typeof profile !== 'string') {
      this.open--;
      if (client.association.isOpen) void client.association.release().catch(() => client.association.abort());
      this.serveWaiters();
      return;
    }
    const i = this.waiters.findIndex((w) => w.profile === profile);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1) as [Waiter];
      clearTimeout(w.timer);
      w.resolve(this.lease(client, profile));
      return;
    }
    if (this.waiters.length > 0) {
      // Someone waits for the other profile: make room for them.
      this.open--;
      void client.association.release().catch(() => {});
      this.serveWaiters();
      return;
    }
    if (this.options.budget?.othersWaiting()) {
      // Another replica waits for the PACS's budget: this association's permit goes to it.
      this.open--;
      void client.association.release().catch(() => {});
      return;
    }
    const entry: Idle = {
      client,
      profile,
      timer: setTimeout(() => {
        const j = this.idle.indexOf(entry);
        if (j < 0) return;
        this.idle.splice(j, 1);
        this.open--;
        void client.association.release().catch(() => {});
      }, this.options.idleTimeoutMs),
    };
    entry.timer.unref();
    this.idle.push(entry);
  }

  /** Every idle association released now (their permits free for other replicas). */
  private closeIdle(): void {
    for (const entry of this.idle.splice(0)) {
      clearTimeout(entry.timer);
      this.open--;
      void entry.client.association.release().catch(() => {});
    }
  }

  /** An association closed by the peer while idle leaves the pool. */
  private forget(client: DimseClient): void {
    const i = this.idle.findIndex((e) => e.client === client);
    if (i < 0) return;
    const [entry] = this.idle.splice(i, 1) as [Idle];
    clearTimeout(entry.timer);
    this.open--;
    this.serveWaiters();
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.open < this.options.maxAssociations && !this.closed) {
      const w = this.waiters.shift() as Waiter;
      clearTimeout(w.timer);
      this.openNew(w.profile).then(w.resolve, w.reject);
    }
  }
}
