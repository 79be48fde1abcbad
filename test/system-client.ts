import { expect } from 'vitest';
import { useServer, type Engine, type TestServer } from './harness.js';

/** A server and a system client holding every scope, as the tests of a patient's record use them. */
export interface SystemClient {
  s: TestServer;
  token: string;
  /** Creates the resource as the system client (expecting 201): its `Type/id`. */
  post(body: Record<string, unknown>): Promise<string>;
}

/**
 * The server of the enclosing describe block (see useServer) and its system client. The object
 * returned is filled in place before the block's own beforeAll hooks (registered after this call).
 */
export function useSystemClient(engine: Engine, env: Record<string, string> = {}): SystemClient {
  const c = {
    async post(body: Record<string, unknown>): Promise<string> {
      const res = await c.s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token: c.token, body });
      expect(res.status, res.text.slice(0, 300)).toBe(201);
      return `${body.resourceType}/${res.body.id}`;
    },
  } as SystemClient;
  useServer(engine, (server, token) => {
    c.s = server;
    c.token = token;
  }, env);
  return c;
}
