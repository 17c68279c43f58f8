import type { Logger } from '../../logger.js';
import { chooseRetrieval, type PacsCapabilities } from './pacs-probe.js';

/** Where the retrieval method is set: the PACS peer's. */
interface RetrievalSetting {
  retrieval: 'move' | 'get';
}

/** After a failed probe, retrievals go on by C-MOVE and the probe is tried again no sooner than this. */
const RETRY_AFTER_MS = 30_000;

/**
 * A tenant's PACS as last probed (pacs-probe.ts), for operators (the log once, /admin/pacs), and with
 * `pacs.retrieve: auto` the retrieval method the findings choose (`chooseRetrieval`): retrievals wait for the
 * first probe, run when the first retrieval comes if none ran at start.
 */
export class PacsCapabilityWatch {
  /** The last probe's findings, or why it failed; absent until one ends. */
  latest: PacsCapabilities | { error: string } | undefined;
  private running: Promise<PacsCapabilities> | undefined;
  private decided = false;
  private failedAt = -Infinity;

  constructor(
    private readonly probeOnce: () => Promise<PacsCapabilities>,
    private readonly peer: RetrievalSetting,
    private readonly auto: boolean,
    private readonly log: Logger,
  ) {}

  /** Probes now (or joins the probe running): logged once each, recorded, and with auto applied. */
  probe(): Promise<PacsCapabilities> {
    this.running ??= this.probeOnce()
      .then(
        (found) => {
          this.latest = found;
          this.log.info({ capabilities: found }, 'PACS capabilities');
          if (this.auto) {
            this.decided = true;
            this.peer.retrieval = chooseRetrieval(found);
            this.log.info(
              { retrieve: this.peer.retrieval, get: found.get, move: found.move },
              `pacs.retrieve auto: retrieving by ${this.peer.retrieval === 'get' ? 'C-GET' : 'C-MOVE'}`,
            );
          }
          return found;
        },
        (err: unknown) => {
          this.latest = { error: (err as Error).message };
          this.failedAt = performance.now();
          this.log.warn(
            { err: (err as Error).message },
            this.auto
              ? 'PACS capabilities could not be probed: retrieving by C-MOVE until a probe succeeds'
              : 'PACS capabilities could not be probed',
          );
          throw err;
        },
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Resolves once no probe runs (closing waits for it). */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** Resolves once a retrieval may start: at once unless auto has not chosen yet. */
  async beforeRetrieval(): Promise<void> {
    if (!this.auto || this.decided) return;
    if (!this.running && performance.now() - this.failedAt < RETRY_AFTER_MS) return;
    await this.probe().catch(() => undefined);
  }
}
