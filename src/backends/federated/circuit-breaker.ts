/**
 * Whether a member that keeps failing is asked at all. Closed: every search asks it. After `failures` failures in
 * a row it opens: searches skip it (and say so) for `backoffMs`, doubled at each failed trial up to `maxBackoffMs`.
 * Then it is half-open: the next search asks it once; success closes it, failure opens it again.
 */
export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private backoff: number;
  private trial = false;

  constructor(
    private readonly options: { failures: number; backoffMs: number; maxBackoffMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.backoff = options.backoffMs;
  }

  /** Whether a search may ask the member now; while half-open, only one search at a time does. */
  allows(): boolean {
    if (this.consecutiveFailures < this.options.failures) return true;
    if (this.now() < this.openUntil || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** When an open breaker lets a trial through again (for the Warning), in ms from now. */
  get retryInMs(): number {
    return Math.max(0, this.openUntil - this.now());
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    this.trial = false;
    this.backoff = this.options.backoffMs;
  }

  failed(): void {
    this.consecutiveFailures++;
    if (this.consecutiveFailures < this.options.failures) return;
    // Opened now, or a failed trial: wait longer before the next one.
    if (this.trial) this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs);
    this.trial = false;
    this.openUntil = this.now() + this.backoff;
  }
}
