import type { FastifyInstance, FastifyRequest } from 'fastify';

interface Refusal {
  issue: string;
  reason: string;
  issues: number;
}

/**
 * A client's values appear in diagnostics between quotes ("found 'X'", a JSON parser's excerpt of
 * the body): the log keeps the sentence and drops them, so it says why without saying what.
 */
export function redact(diagnostics: string): string {
  return diagnostics
    .replace(/"[\s\S]*" is not valid JSON/, '"…" is not valid JSON')
    .replace(/'[^']*'|"[^"]*"|`[^`]*`/g, (q) => `${q[0]}…${q[0]}`)
    .slice(0, 300);
}

function refusalOf(payload: unknown): Refusal | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const outcome = JSON.parse(payload) as { resourceType?: string; issue?: Array<{ code?: string; diagnostics?: string }> };
    const first = outcome.resourceType === 'OperationOutcome' ? outcome.issue?.[0] : undefined;
    if (!first) return undefined;
    return { issue: first.code ?? 'unknown', reason: redact(first.diagnostics ?? ''), issues: outcome.issue!.length };
  } catch {
    return undefined;
  }
}

/**
 * One line per request: method, route pattern (never the query string, which can carry an
 * identifier), status, time, and for a 4xx or 5xx the OperationOutcome's first issue, redacted.
 * Replaces Fastify's two lines per request (see disableRequestLogging in server.ts).
 */
export function registerRequestLog(app: FastifyInstance): void {
  const refusals = new WeakMap<FastifyRequest, Refusal>();
  app.addHook('onSend', (req, reply, payload, done) => {
    if (reply.statusCode >= 400) {
      const refusal = refusalOf(payload);
      if (refusal) refusals.set(req, refusal);
    }
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const status = reply.statusCode;
    const line = {
      method: req.method,
      route: req.routeOptions.url ?? req.url.split('?')[0],
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ...refusals.get(req),
    };
    if (status >= 500) req.log.error(line, 'request');
    else req.log.info(line, 'request');
    done();
  });
}
