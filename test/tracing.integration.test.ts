/**
 * Traces (issue 14): with `tracing.exporter: console` each finished OpenTelemetry span is a JSON log line. One
 * request is one trace: the HTTP span at its root, and under it the spans of the work it caused — the association
 * opened, each C-FIND with its responses as events, the C-MOVE with its sub-operations, each render. The gateway
 * runs as the command does, in front of dcmqrscp; with the default (`none`) no span is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allInstances, allStudies } from '../src/samples/catalog.js';
import { gatewayProcessInFrontOfDcmqrscp, type GatewayProcess, type LogLine } from './harness/gateway-process.js';

interface SpanLine extends LogLine {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  events?: { name: string }[];
}

describe('traces', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await gatewayProcessInFrontOfDcmqrscp({ DICOMWEB_TRACING_EXPORTER: 'console', DICOMWEB_LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const spans = (): SpanLine[] => gw.lines.filter((l) => l.msg === 'span') as SpanLine[];
  /** The trace of the request whose response named `reqId`, once its HTTP span has ended. */
  async function traceOf(reqId: string): Promise<{ root: SpanLine; all: SpanLine[] }> {
    const root = (await gw.logged(
      (l) => l.msg === 'span' && (l as SpanLine).attributes['dicomweb_gateway.request_id'] === reqId,
    )) as SpanLine;
    return { root, all: spans().filter((s) => s.traceId === root.traceId) };
  }

  it('one search is one trace: its HTTP span, the association it opened and its C-FIND with a response per match', async () => {
    const response = await fetch(`${gw.base}/studies`);
    const matches = (await response.json()) as unknown[];
    const { root, all } = await traceOf(response.headers.get('x-request-id') ?? '');
    expect(root.name).toBe('GET /dicomweb/studies');
    expect(root.parentSpanId).toBeUndefined();
    expect(root.attributes['http.response.status_code']).toBe(200);
    const find = all.find((s) => s.name === 'C-FIND');
    expect(find?.parentSpanId).toBe(root.spanId);
    expect(find?.attributes['dicom.find.responses']).toBe(matches.length);
    expect(find?.events?.filter((e) => e.name === 'C-FIND-RSP pending')).toHaveLength(matches.length);
    const associate = all.find((s) => s.name === 'A-ASSOCIATE');
    expect(associate?.parentSpanId).toBe(find?.spanId);
    expect(associate?.attributes['dicom.called_ae_title']).toBe(gw.pacs.aeTitle);
    // Nothing of another request in this trace.
    expect(all.every((s) => s === root || s.parentSpanId !== undefined)).toBe(true);
  });

  it('a retrieval: the C-MOVE under the request, each sub-operation an event of it; a render: a span under its request', async () => {
    const { study } = allStudies().find((s) => s.study.series.some((se) => se.modality !== 'US')) ?? {};
    const series = study?.series.find((se) => se.modality !== 'US');
    if (!study || !series) throw new Error('no fixture series');
    const url = `${gw.base}/studies/${study.uid}/series/${series.uid}`;
    const retrieval = await fetch(url, {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(retrieval.status).toBe(200);
    await retrieval.arrayBuffer();
    const moved = await traceOf(retrieval.headers.get('x-request-id') ?? '');
    const move = moved.all.find((s) => s.name === 'C-MOVE');
    expect(move?.parentSpanId).toBe(moved.root.spanId);
    expect(move?.attributes['dicom.retrieve.instances']).toBe(series.instances);
    expect(move?.events?.filter((e) => e.name === 'sub-operation')).toHaveLength(series.instances);

    const instance = [...allInstances()].find((i) => i.series.uid === series.uid);
    const rendered = await fetch(`${url}/instances/${instance?.uid ?? ''}/frames/1/rendered`, {
      headers: { accept: 'image/jpeg' },
    });
    expect(rendered.status).toBe(200);
    await rendered.arrayBuffer();
    const render = await traceOf(rendered.headers.get('x-request-id') ?? '');
    const images = render.all.filter((s) => s.name === 'render');
    expect(images.length).toBeGreaterThanOrEqual(1);
    for (const image of images) {
      expect(image.parentSpanId).toBe(render.root.spanId);
      expect(image.attributes['dicomweb.media_type']).toBe('image/jpeg');
    }
  });
});
