import { pino, type Logger as PinoLogger } from 'pino';
import { currentRequestId } from './request-context.js';
import { REDACTED, REDACTED_PATHS, requestSerializer } from './log-redaction.js';
import type { GatewayConfig } from './config/schema.js';

/** The slice of pino's logger the non-HTTP modules use; Fastify's `app.log` satisfies it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything (unit tests and library use). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/**
 * The gateway's root logger (JSON lines on stdout). Every line logged in a request's asynchronous context — the
 * DIMSE work it causes included — carries its id, unless the logger already binds one (Fastify's request
 * logger does). Request targets are redacted (log-redaction.ts), Authorization headers never written.
 */
export function gatewayLogger(log: GatewayConfig['log']): PinoLogger {
  return pino({
    level: log.level,
    serializers: { req: requestSerializer(log.queryValues) },
    redact: { paths: [...REDACTED_PATHS], censor: REDACTED },
    mixin: (_line, _level, logger) => {
      const reqId = currentRequestId();
      return reqId === undefined || 'reqId' in logger.bindings() ? {} : { reqId };
    },
  });
}
