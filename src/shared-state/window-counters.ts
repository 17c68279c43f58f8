/** A limit of requests per window; 0 requests disables it. */
export interface Limit {
  requests: number;
  windowSeconds: number;
}

/**
 * Counters of requests in fixed windows, by key: what several replicas must share for a limit to hold for the
 * cluster (an in-process store limits per replica, not per cluster). A key's window starts at its first request
 * (not on a clock boundary), so a burst cannot straddle two windows and get twice its allowance.
 */
export interface WindowCounters {
  /** Counts one request for `key`; undefined when allowed, else the seconds until its window ends. */
  take(key: string, limit: Limit): Promise<number | undefined>;
  close(): Promise<void>;
}
