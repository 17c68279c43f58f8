/**
 * Progress of long work on a terminal or in a log: on a TTY, one line redrawn in place (a bar, the count, bytes,
 * rate and ETA); elsewhere (a pipe, systemd, CI) a plain line every `everyMs`. Small and dependency-free.
 */
export interface ProgressState {
  done: number;
  total: number;
  doneBytes: number;
  totalBytes: number;
  /** What is counted: "files", "instances". */
  unit: string;
  /** A few words after the figures, e.g. "3 failed". */
  note?: string;
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The figures of a progress line: count, bytes, rate, ETA (by bytes when sizes are known, else by count). */
export function progressFigures(state: ProgressState, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? state.doneBytes / seconds : 0;
  const fraction =
    state.totalBytes > 0 ? state.doneBytes / state.totalBytes : state.total > 0 ? state.done / state.total : 0;
  const eta = fraction > 0 && fraction < 1 ? (seconds * (1 - fraction)) / fraction : fraction >= 1 ? 0 : Number.NaN;
  const total = state.total > 0 ? `/${state.total}` : '';
  const totalBytes = state.totalBytes > 0 ? `/${mb(state.totalBytes)}` : '';
  return `${state.done}${total} ${state.unit}  ${mb(state.doneBytes)}${totalBytes} MB  ${mb(rate)} MB/s  ETA ${clock(eta)}${state.note ? `  ${state.note}` : ''}`;
}

export class ProgressReporter {
  private readonly started: number;
  private lastPlain = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly everyMs = 5000,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  update(state: ProgressState): void {
    const elapsed = this.now() - this.started;
    const figures = progressFigures(state, elapsed);
    if (this.out.isTTY) {
      const width = 24;
      const fraction =
        state.totalBytes > 0 ? state.doneBytes / state.totalBytes : state.total > 0 ? state.done / state.total : 0;
      const filled = Math.round(Math.min(1, fraction) * width);
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${figures}`;
      this.out.write(`\r${line.slice(0, Math.max(20, (this.out.columns ?? 120) - 1))}\x1b[K`);
      this.drawn = true;
    } else if (this.now() - this.lastPlain >= this.everyMs || state.done === state.total) {
      this.lastPlain = this.now();
      this.out.write(`${figures}\n`);
    }
  }

  /** Ends the redrawn line, so that what follows starts on its own. */
  finish(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
