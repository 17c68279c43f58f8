/**
 * The benchmark report (issue 13): each suite returns a {@link SuiteResult} — tables, targets, charts — which is
 * printed, kept as `bench/results/<suite>.json`, and rendered with every other suite's last result into
 * `bench/report.md`, its charts as PNG in `bench/report/`. Running one suite (`npm run bench -- wado`) rewrites
 * only that suite's section; the others keep the figures (and the date) of their own last run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** A sentence under the table: what a figure means, where the time goes. */
  note?: string;
}

export interface Target {
  what: string;
  measured: string;
  target: string;
  met: boolean;
}

export interface Chart {
  /** File name stem: `bench/report/<suite>-<name>.png`. */
  name: string;
  title: string;
  spec: TopLevelSpec;
}

export interface SuiteResult {
  suite: string;
  title: string;
  /** What was measured, how, against what: a paragraph. */
  setup: string;
  tables: Table[];
  targets: Target[];
  charts: Chart[];
}

/** What a suite's figures were measured on, kept beside them. */
export interface RunInfo {
  date: string;
  machine: string;
  versions: Record<string, string>;
}

interface StoredResult extends SuiteResult {
  run: RunInfo;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const CHARTS_DIR = path.join(BENCH_DIR, 'report');
const REPORT = path.join(BENCH_DIR, 'report.md');

/** Which suites the report lists, in this order (a result of a suite no longer run is dropped). */
export const SUITE_ORDER = [
  'qido',
  'federation',
  'wado',
  'studies',
  'viewer',
  'render',
  'archive',
  'ingest',
  'scale',
] as const;

// ---------------------------------------------------------------------------------------------- formatting

export const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
export const seconds = (v: number): string => `${v.toFixed(2)} s`;
export const ratio = (v: number): string => `${v.toFixed(2)}×`;
export const mb = (v: number): string => `${v.toFixed(0)} MB`;
export const perSecond = (v: number, unit: string): string => `${v.toFixed(0)} ${unit}/s`;

/** A target line: `measured` against `target`, met or not. */
export function target(what: string, measured: string, targetText: string, met: boolean): Target {
  return { what, measured, target: targetText, met };
}

function markdownTable(columns: readonly string[], rows: readonly Cell[][]): string {
  const escape = (c: Cell): string => String(c).replace(/\|/g, '\\|');
  const align = columns.map((_, i) => (i === 0 ? '---' : '---:')); // names left, figures right
  return [
    `| ${columns.map(escape).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

/** One suite as Markdown (the report's section, and what the console shows). */
export function suiteMarkdown(r: SuiteResult, run?: RunInfo, chartLink?: (chart: Chart) => string): string {
  const out: string[] = [`## ${r.title}`, ''];
  if (run) out.push(`*Run ${run.date} on ${run.machine}.*`, '');
  out.push(r.setup, '');
  for (const t of r.tables) {
    out.push(`**${t.title}**`, '', markdownTable(t.columns, t.rows), '');
    if (t.note) out.push(t.note, '');
  }
  if (r.targets.length) {
    out.push(
      '**Targets**',
      '',
      markdownTable(
        ['', 'measured', 'target', ''],
        r.targets.map((t) => [t.what, t.measured, t.target, t.met ? 'met' : '**not met**']),
      ),
      '',
    );
  }
  if (chartLink) for (const c of r.charts) out.push(`![${c.title}](${chartLink(c)})`, '');
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------------- charts

const FONT = 'DejaVu Sans';
const CHART_CONFIG = {
  font: FONT,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 12, titleFontSize: 12 },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'bottom' as const },
  title: { fontSize: 15, anchor: 'start' as const },
};

/**
 * One colour per side, the same in every chart: the gateway in blues, Orthanc in oranges, DCMTK (and our raw
 * DIMSE client, the network floor) in greys — shades when a chart has several of one side.
 */
const PALETTE: [RegExp, string[]][] = [
  [/^gateway/i, ['#1f5fa8', '#5b9bd5', '#9dc3e6', '#2e75b6', '#bdd7ee']],
  [/orthanc/i, ['#e07b00', '#f4b183', '#c55a11', '#f8cbad']],
  [/.*/, ['#595959', '#a6a6a6', '#7f7f7f', '#d0d0d0']],
];

function colorScale(series: readonly string[]): { domain: string[]; range: string[] } {
  const domain = [...new Set(series)];
  const used = new Map<string, number>();
  const range = domain.map((name) => {
    const [pattern, shades] = PALETTE.find(([re]) => re.test(name)) as [RegExp, string[]];
    const n = used.get(pattern.source) ?? 0;
    used.set(pattern.source, n + 1);
    return shades[n % shades.length] as string;
  });
  return { domain, range };
}

/** A chart of `values`, one colour per `series` (the same side, the same colour in every chart). */
function chart(
  name: string,
  title: string,
  values: { series: string }[],
  layout: { mark: unknown; encoding: Record<string, unknown>; height?: number },
): Chart {
  const color = {
    field: 'series',
    type: 'nominal',
    sort: null,
    title: null,
    scale: colorScale(values.map((d) => d.series)),
    legend: { columns: 1, labelLimit: 600 },
  };
  return {
    name,
    title,
    spec: {
      title,
      width: 620,
      config: CHART_CONFIG,
      data: { values },
      ...layout,
      encoding: { ...layout.encoding, color },
    } as TopLevelSpec,
  };
}

/** Horizontal grouped bars: one group per `group`, one bar per `series` (e.g. gateway / Orthanc / DCMTK). */
export function barChart(
  name: string,
  title: string,
  unit: string,
  data: { group: string; series: string; value: number }[],
): Chart {
  return chart(name, title, data, {
    mark: { type: 'bar', tooltip: false },
    encoding: {
      y: { field: 'group', type: 'nominal', title: null, sort: null, axis: { labelLimit: 260 } },
      yOffset: { field: 'series', type: 'nominal', sort: null },
      x: { field: 'value', type: 'quantitative', title: unit },
    },
  });
}

/** Lines with points: `y` against `x` per `series` (e.g. throughput by client count, time by study size). */
export function lineChart(
  name: string,
  title: string,
  axes: { x: string; y: string; logX?: boolean; logY?: boolean },
  data: { x: number; y: number; series: string }[],
): Chart {
  const xs = [...new Set(data.map((d) => d.x))];
  return chart(name, title, data, {
    height: 320,
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: axes.x,
        scale: axes.logX ? { type: 'log', domain: extent(xs), nice: false } : { zero: true },
        axis: xs.length <= 12 ? { values: xs } : {},
      },
      y: { field: 'y', type: 'quantitative', title: axes.y, scale: axes.logY ? { type: 'log' } : { zero: true } },
    },
  });
}

const extent = (xs: readonly number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];

/** Vega-Lite → Vega → SVG (no canvas needed) → PNG by sharp (librsvg), at twice the size for sharp text. */
export async function renderChart(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG(1);
  view.finalize();
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(file);
}

// ----------------------------------------------------------------------------------------- run information

function firstLine(cmd: string, args: string[]): string {
  try {
    return (
      execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .split('\n')
        .find((l) => l.trim())
        ?.trim() ?? '?'
    );
  } catch {
    return 'not found';
  }
}

function debPackage(name: string): string {
  return firstLine('dpkg-query', ['-W', '-f', '${Version}', name]);
}

/** The machine, the date and the versions of everything measured, read now. */
export function runInfo(): RunInfo {
  const cpus = os.cpus();
  const debian = existsSync('/etc/debian_version')
    ? `Debian ${readFileSync('/etc/debian_version', 'utf8').trim()}`
    : os.type();
  const commit = firstLine('git', ['describe', '--always', '--dirty']);
  const pkg = JSON.parse(readFileSync(path.join(BENCH_DIR, '..', 'package.json'), 'utf8')) as { version: string };
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${debian}, Linux ${os.release()}`,
    versions: {
      'dicomweb-gateway': `${pkg.version} (${commit})`,
      'Node.js': process.version,
      Orthanc: debPackage('orthanc'),
      'Orthanc DICOMweb plugin': debPackage('orthanc-dicomweb'),
      DCMTK: debPackage('dcmtk'),
      curl: debPackage('curl'),
    },
  };
}

// ------------------------------------------------------------------------------------------------- report

/** Prints a suite's result, keeps it, renders its charts and rewrites the report from every kept result. */
export async function recordSuite(result: SuiteResult): Promise<void> {
  process.stdout.write(`\n${suiteMarkdown(result)}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  mkdirSync(CHARTS_DIR, { recursive: true });
  const stored: StoredResult = { ...result, run: runInfo() };
  writeFileSync(path.join(RESULTS_DIR, `${result.suite}.json`), `${JSON.stringify(stored, null, 1)}\n`);
  for (const f of readdirSync(CHARTS_DIR)) if (f.startsWith(`${result.suite}-`)) rmSync(path.join(CHARTS_DIR, f));
  for (const c of result.charts) await renderChart(c.spec, path.join(CHARTS_DIR, chartFile(result.suite, c)));
  writeReport();
}

const chartFile = (suite: string, c: Chart): string => `${suite}-${c.name}.png`;

/** `bench/report.md` from every kept result. */
export function writeReport(): void {
  const results = SUITE_ORDER.flatMap((s) => {
    const file = path.join(RESULTS_DIR, `${s}.json`);
    return existsSync(file) ? [JSON.parse(readFileSync(file, 'utf8')) as StoredResult] : [];
  });
  const latest = results.map((r) => r.run).sort((a, b) => b.date.localeCompare(a.date))[0];
  const out = [
    '# Benchmark report',
    '',
    'Written by `npm run bench` (every suite) or `npm run bench -- NAME` (one suite; the others keep their last run). Every figure of a suite comes from one run on one machine, the gateway and the peers it is compared with measured side by side; each section says when and on what. PACSes run as they ship unless a figure says *tuned*. How to read a ratio: each target says which way is better.',
    '',
  ];
  if (latest) {
    out.push(
      `Machine of the latest run: ${latest.machine}.`,
      '',
      markdownTable(['', 'version'], Object.entries(latest.versions)),
      '',
    );
  }
  out.push(
    results
      .map(
        (r) =>
          `- [${r.title}](#${anchor(r.title)}) — ${r.targets.filter((t) => t.met).length} of ${r.targets.length} targets met`,
      )
      .join('\n'),
    '',
  );
  const allVersions = (run: RunInfo): string =>
    Object.entries(run.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  for (const r of results) {
    out.push(suiteMarkdown(r, r.run, (c) => `report/${chartFile(r.suite, c)}`));
    if (latest && allVersions(r.run) !== allVersions(latest))
      out.push(`*Versions of this run: ${allVersions(r.run)}.*`, '');
  }
  writeFileSync(REPORT, `${out.join('\n').trimEnd()}\n`);
}

/** GitHub's heading anchor. */
function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}
