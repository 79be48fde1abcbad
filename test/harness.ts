import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe } from 'vitest';
import { createApp, type App, type AppDeps } from '../src/app.js';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';

export type Engine = 'lmdb' | 'mongodb';

export interface TestServer {
  app: App;
  engine: Engine;
  baseUrl: string;
  /** The data directory and, on MongoDB, the database: another server opened on them shares this one's store. */
  dataDir: string;
  db?: string;
  /** A token from the local issuer of this server's data directory. */
  token(claims: { fhirUser?: string; scope: string; patient?: string; purpose_of_use?: string; expiresIn?: string }): Promise<string>;
  /** HTTP through Fastify's inject (no socket); from 127.0.0.1 unless `remoteAddress` says otherwise. */
  request(opts: { method: string; url: string; token?: string; body?: unknown; headers?: Record<string, string>; remoteAddress?: string }): Promise<{ status: number; headers: Record<string, any>; body: any; text: string }>;
  /**
   * Closes this server's app, keeping its data, and opens a new app on the same data directory or
   * database (store, token issuer): `app` is then the new one. Resolves to this same server.
   */
  restart(): Promise<TestServer>;
  close(): Promise<void>;
}

const MONGODB_URI = process.env.MONGODB_URI;

/** Every engine available here: the embedded one always, MongoDB when MONGODB_URI is set. */
export const ENGINES: Engine[] = MONGODB_URI ? ['lmdb', 'mongodb'] : ['lmdb'];

/** Registers the suite once per engine; without MONGODB_URI, a skipped block says why. */
export function describeEngines(title: string, fn: (engine: Engine) => void): void {
  for (const engine of ENGINES) describe(`${title} [${engine}]`, () => fn(engine));
  if (!MONGODB_URI) describe.skip(`${title} [mongodb]: skipped because MONGODB_URI is not set (CI sets it to a FerretDB server)`, () => {});
}

let dbCounter = 0;

export async function startServer(
  engine: Engine,
  env: Record<string, string> = {},
  now?: () => Date,
  on?: { dataDir?: string; db?: string; exportHooks?: AppDeps['exportHooks'] },
): Promise<TestServer> {
  const dataDir = on?.dataDir ?? mkdtempSync(join(tmpdir(), 'carnet-test-'));
  const db = on?.db ?? `carnet_test_${process.pid}_${Date.now()}_${dbCounter++}`;
  const config = loadConfig({
    CARNET_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    CARNET_BASE_URL: 'http://carnet.test/fhir',
    ...(engine === 'mongodb' ? { MONGODB_URI: MONGODB_URI!, MONGODB_DB: db } : {}),
    ...env,
  });
  let app = await createApp({ config, logger: createLogger('silent'), now, exportHooks: on?.exportHooks });
  const issuer = await ensureLocalIssuer(dataDir);
  const server: TestServer = {
    get app() {
      return app;
    },
    engine,
    baseUrl: config.baseUrl,
    dataDir: config.dataDir,
    ...(engine === 'mongodb' ? { db: config.mongodbDb } : {}),
    token: (claims) => issuer.sign(claims),
    async request({ method, url, token, body, headers, remoteAddress }) {
      const res = await app.http.inject({
        method: method as any,
        url,
        ...(remoteAddress ? { remoteAddress } : {}),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/fhir+json' } : {}),
          ...headers,
        },
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      let parsed: any;
      try {
        parsed = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, headers: res.headers, body: parsed, text: res.body };
    },
    async restart() {
      await app.close();
      // A new process: the test hooks of the first one (e.g. an export held midway) are not carried over.
      app = await createApp({ config, logger: createLogger('silent'), now });
      return server;
    },
    async close() {
      await app.close();
      if (engine === 'mongodb') {
        const client = await MongoClient.connect(MONGODB_URI!);
        await client.db(db).dropDatabase().catch(() => undefined);
        await client.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * A server for the enclosing describe block, started before its tests and closed after them; `use`
 * receives it with a token of a system client holding every scope.
 */
export function useServer(engine: Engine, use: (s: TestServer, token: string) => void, env: Record<string, string> = {}, now?: () => Date): void {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer(engine, env, now);
    use(server, await server.token({ scope: 'system/*.cruds' }));
  });
  afterAll(async () => server?.close());
}

/**
 * How many versions the server holds of everything but the access history (the AuditEvents that
 * every request adds, refused ones too): what "nothing was written" counts.
 */
export async function versionsButAudit(s: TestServer, token: string): Promise<number> {
  const all = (await s.request({ method: 'GET', url: '/fhir/_history?_count=1', token })).body.total;
  // Counts the event of the request above too, which `all` could not: the same offset every time.
  const audit = (await s.request({ method: 'GET', url: '/fhir/AuditEvent/_history?_count=1', token })).body.total;
  return all - audit;
}
