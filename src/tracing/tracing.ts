import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logger.js';

/** The tracer every instrumented part uses: OpenTelemetry's no-op one until startTracing registers a provider. */
export const tracer = (): Tracer => trace.getTracer('dicomweb-gateway');

export interface TracingSettings {
  exporter: 'none' | 'otlp' | 'console';
  /** OTLP/HTTP endpoint (e.g. http://collector:4318/v1/traces); default: the exporter's (OTEL_EXPORTER_OTLP_*). */
  endpoint?: string | undefined;
}

/** Nanoseconds of an OpenTelemetry HrTime, as milliseconds. */
const ms = ([s, ns]: [number, number]): number => s * 1000 + ns / 1e6;

/**
 * The `console` exporter: each finished span as one JSON log line (`msg: "span"`) through the gateway's own
 * logger, so that traces land where the logs do (the journal) and can be read without a collector.
 */
class LogSpanExporter implements SpanExporter {
  constructor(private readonly log: Logger) {}

  export(spans: ReadableSpan[], done: (result: { code: number }) => void): void {
    for (const s of spans) {
      const parent = s.parentSpanContext?.spanId;
      this.log.info(
        {
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          ...(parent ? { parentSpanId: parent } : {}),
          name: s.name,
          durationMs: Math.round(ms(s.duration) * 1000) / 1000,
          status: s.status.code,
          attributes: s.attributes,
          ...(s.events.length
            ? { events: s.events.map((e) => ({ name: e.name, ...(e.attributes ? { attributes: e.attributes } : {}) })) }
            : {}),
        },
        'span',
      );
    }
    done({ code: 0 });
  }

  async shutdown(): Promise<void> {}
}

/**
 * Registers OpenTelemetry tracing as configured (`tracing.exporter`): spans from each HTTP request through the
 * associations, C-FINDs, retrievals and renders it causes. `none` registers nothing (the API stays a no-op).
 */
export function startTracing(
  settings: TracingSettings,
  log: Logger,
  version: string,
): { shutdown(): Promise<void> } | undefined {
  if (settings.exporter === 'none') return undefined;
  const processor =
    settings.exporter === 'console'
      ? new SimpleSpanProcessor(new LogSpanExporter(log))
      : new BatchSpanProcessor(new OTLPTraceExporter(settings.endpoint ? { url: settings.endpoint } : {}));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'dicomweb-gateway', 'service.version': version }),
    spanProcessors: [processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
