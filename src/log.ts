import pino, { type Logger } from 'pino';

/**
 * Structured logs: request id, method, path, status, time. Never bodies, tokens or query strings
 * (a query can carry an identifier, which is health data).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'carnet' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        req: (req: { id?: string; method?: string; url?: string }) => ({ method: req.method, path: req.url?.split('?')[0] }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
      redact: { paths: ['req.headers.authorization', '*.authorization', 'token'], remove: true },
    },
    destination,
  );
}
