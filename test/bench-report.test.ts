import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../devkit/temp.js';
import { barChart, lineChart, renderChart, suiteMarkdown, target, type SuiteResult } from '../bench/report.js';

const result: SuiteResult = {
  suite: 'example',
  title: 'An example suite',
  setup: 'What was measured.',
  tables: [
    {
      title: 'Figures',
      columns: ['', 'p50'],
      rows: [
        ['gateway | cold', '1.00 ms'],
        ['Orthanc', '2.00 ms'],
      ],
      note: 'A note.',
    },
  ],
  targets: [target('gateway / Orthanc', '0.50×', '≤ 1×', true), target('RSS', '250 MB', '< 200 MB', false)],
  charts: [
    barChart('latency', 'Latency', 'ms', [
      { group: 'p50', series: 'gateway', value: 1 },
      { group: 'p50', series: "Orthanc's own", value: 2 },
    ]),
  ],
};

describe('benchmark report', () => {
  it('writes a suite as Markdown tables, its targets marked met or not, a pipe in a cell escaped', () => {
    const md = suiteMarkdown(result, undefined, (c) => `report/example-${c.name}.png`);
    expect(md).toContain('## An example suite');
    expect(md).toContain('| gateway \\| cold | 1.00 ms |');
    expect(md).toMatch(/\| gateway \/ Orthanc \| 0\.50× \| ≤ 1× \| met \|/);
    expect(md).toMatch(/\| RSS \| 250 MB \| < 200 MB \| \*\*not met\*\* \|/);
    expect(md).toContain('![Latency](report/example-latency.png)');
  });

  it('renders a chart to a PNG with the gateway in blue and Orthanc in orange', async () => {
    const dir = tempDir('bench-report');
    const file = path.join(dir, 'bars.png');
    const [chart] = result.charts;
    if (!chart) throw new Error('the example has a chart');
    await renderChart(chart.spec, file);
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBeGreaterThan(600);
    let blue = 0;
    let orange = 0;
    for (let i = 0; i < data.length; i += 3) {
      const [r, g, b] = [data[i] as number, data[i + 1] as number, data[i + 2] as number];
      if (r === 0x1f && g === 0x5f && b === 0xa8) blue++;
      if (r === 0xe0 && g === 0x7b && b === 0x00) orange++;
    }
    expect(blue).toBeGreaterThan(1000);
    expect(orange).toBeGreaterThan(1000);
  });

  it('draws a line chart on a log axis without failing on its extent', async () => {
    const dir = tempDir('bench-report');
    const chart = lineChart(
      't',
      'Throughput',
      { x: 'clients', y: 'req/s', logX: true },
      [1, 2, 4].map((x) => ({ x, y: 100 * x, series: 'gateway' })),
    );
    await renderChart(chart.spec, path.join(dir, 'lines.png'));
    expect((await sharp(path.join(dir, 'lines.png')).metadata()).height).toBeGreaterThan(300);
  });
});
