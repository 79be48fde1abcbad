import { availableParallelism } from 'node:os';
import cron from 'node-cron';

/**
 * Configuration from the environment. An invalid value stops start-up with one line naming the
 * variable (ConfigError), never a stack trace.
 */
export interface Config {
  port: number;
  host: string;
  baseUrl: string;
  dataDir: string;
  mongodbUri?: string;
  mongodbDb: string;
  authJwks?: string;
  authIssuer?: string;
  authAudience?: string;
  /** The authorization server's metadata document (RFC 8414 / OpenID discovery), read once at start. */
  authDiscovery?: string;
  /** Published in the SMART configuration; override what discovery says. */
  authAuthorizationEndpoint?: string;
  authTokenEndpoint?: string;
  logLevel: string;
  /** Largest accepted request body, bytes. */
  bodyLimit: number;
  /** Largest JSON nesting depth accepted in a body. */
  maxDepth: number;
  /** Default and maximum page size. */
  defaultCount: number;
  maxCount: number;
  /** Most entries in a batch or transaction Bundle. */
  maxBundleEntries: number;
  /** Largest Binary content, bytes. */
  binaryLimit: number;
  /** Most records one request's searches may examine together (a batch's entries share it). */
  searchBudget: number;
  /** CARNET_AUDIT: record an AuditEvent for every request (default on; `off` for measurements only). */
  audit: boolean;
  /** Longest string in a resource, in characters (base64 content excepted). */
  maxStringLength: number;
  /** Most items in any one array of a resource (default 1,000: see README, Configuration). */
  maxArrayItems: number;
  /**
   * Most values in one resource, all levels together. The default, 5,000, keeps each step of a
   * write of the largest resource (validation, indexing, its commit's index keys) to about 20 ms
   * of the event loop on a 2-core VM.
   */
  maxElements: number;
  /**
   * Server processes sharing the port (CARNET_WORKERS; `auto`: one per core on MongoDB, one on the
   * embedded engine, where several processes writing one store have aborted in lmdb-js's free-page
   * bookkeeping: see the README). 1: no cluster.
   */
  workers: number;
  /** Origins of browser apps allowed to call the server (CORS); empty: none. */
  corsOrigins: string[];
  /** Most open connections per server process. */
  maxConnections: number;
  /** Longest time to receive a whole request, ms. */
  requestTimeoutMs: number;
  /**
   * How long AuditEvents are kept (CARNET_AUDIT_RETENTION_READS, _WRITES: ISO 8601 durations of
   * years, months and days, e.g. P6M). Reads (and searches, operations, denials): 6 months; writes:
   * 10 years. See README "Access history" for why.
   */
  auditRetention: { reads: Duration; writes: Duration };
  /** CARNET_JOBS: run the scheduled jobs on their cron schedules (default on; they can still be started on demand). */
  jobs: boolean;
  /** Bulk Data exports one client may have running at once (CARNET_EXPORT_MAX_JOBS). */
  exportMaxJobs: number;
  /** An export's NDJSON file is split before it passes this many bytes (CARNET_EXPORT_FILE_BYTES). */
  exportFileBytes: number;
  /** How long a finished export and its files are kept, in seconds (CARNET_EXPORT_KEEP). */
  exportKeepSeconds: number;
  /** CARNET_PREVENTION_CRON: when the prevention job runs (node-cron expression, Europe/Paris). */
  preventionCron: string;
  /** CARNET_PREVENTION_BATCH: patients evaluated per batch (and per commit) of a prevention run. */
  preventionBatch: number;
  /** CARNET_PREVENTION_RULES: the folder of prevention rule files (default conformance/prevention). */
  preventionRules?: string;
  /** Subscriptions (see README "Subscriptions"). */
  subscriptions: SubscriptionConfig;
}

/** A calendar duration: years, months and days. */
export interface Duration {
  years: number;
  months: number;
  days: number;
}

/** An ISO 8601 duration of years, months and days (P6M, P10Y, P1Y6M, P180D), not zero. */
export function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): Duration {
  const raw = (env[name] || fallback).trim();
  const m = /^P(?:(\d{1,4})Y)?(?:(\d{1,5})M)?(?:(\d{1,6})D)?$/.exec(raw);
  const d = m && { years: Number(m[1] ?? 0), months: Number(m[2] ?? 0), days: Number(m[3] ?? 0) };
  if (!d || d.years + d.months + d.days === 0) throw new ConfigError(name, `"${raw}" is not a duration such as P6M, P10Y, P1Y6M or P180D`);
  return d;
}

/** The instant `d` before `now` (the calendar's months and years, in UTC). */
export function before(now: Date, d: Duration): Date {
  const t = new Date(now.getTime());
  t.setUTCFullYear(t.getUTCFullYear() - d.years, t.getUTCMonth() - d.months, t.getUTCDate() - d.days);
  return t;
}

export interface SubscriptionConfig {
  /** Hosts a rest-hook endpoint may name (CARNET_SUBSCRIPTION_ALLOWED_HOSTS); none by default: rest-hooks are refused. */
  allowedHosts: string[];
  /** Failed attempts of one notification before its Subscription is set to `error`. */
  maxAttempts: number;
  /** Delay before the first retry, ms; doubled at each further failure (capped at an hour). */
  retryMs: number;
  /** How late a version may become visible in the history after its lastUpdated, ms: the feed is read again that far back. */
  lagMs: number;
  /** Longest wait for a rest-hook endpoint's answer, ms. */
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

function workers(env: NodeJS.ProcessEnv): number {
  const raw = env.CARNET_WORKERS;
  if (raw === 'auto') return env.MONGODB_URI ? Math.min(64, availableParallelism()) : 1;
  if (raw && !/^\d+$/.test(raw)) throw new ConfigError('CARNET_WORKERS', `expected "auto" or a whole number from 1 to 64, got "${raw}"`);
  return int(env, 'CARNET_WORKERS', 1, 1, 64);
}

function onOff(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  if (raw === 'off' || raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected on or off, got "${raw}"`);
}

function cronExpression(env: NodeJS.ProcessEnv, name: string, dflt: string): string {
  const raw = env[name]?.trim();
  if (!raw) return dflt;
  if (!cron.validate(raw)) throw new ConfigError(name, `"${raw}" is not a cron expression (five fields, e.g. "0 2 * * *")`);
  return raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected a number from ${min} to ${max}, got ${n}`);
  return n;
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a valid URL: "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got "${parsed.protocol}"`);
  }
  return raw;
}

/** An authorization server's URL, published to clients: https, or http on a loopback address (a local IdP). */
function authUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = url(env, name, ['https:', 'http:']);
  if (raw && new URL(raw).protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(new URL(raw).hostname)) {
    throw new ConfigError(name, 'expected an https URL (http only on localhost)');
  }
  return raw;
}

/** Host names, or host:port, as a URL's host gives them (lower case; a default port dropped). */
function allowedHosts(env: NodeJS.ProcessEnv): string[] {
  const raw = env.CARNET_SUBSCRIPTION_ALLOWED_HOSTS?.trim();
  if (!raw) return [];
  return raw.split(',').map((item) => {
    const value = item.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(`http://${value}`);
    } catch {
      parsed = undefined;
    }
    if (!value || !parsed || parsed.pathname !== '/' || parsed.search || parsed.username || value.includes('/')) {
      throw new ConfigError('CARNET_SUBSCRIPTION_ALLOWED_HOSTS', `"${value}" is not a host (expected e.g. hooks.example.org or 127.0.0.1:9000, comma-separated)`);
    }
    return parsed.host;
  });
}

/** `*`, or a list of origins as browsers send them (scheme://host[:port], nothing after). */
function corsOrigins(env: NodeJS.ProcessEnv): string[] {
  const raw = env.CARNET_CORS_ORIGINS?.trim();
  if (!raw) return [];
  if (raw === '*') return ['*'];
  return raw.split(',').map((item) => {
    const value = item.trim();
    let origin: string | undefined;
    try {
      const parsed = new URL(value);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') origin = parsed.origin;
    } catch {
      origin = undefined;
    }
    if (origin === undefined || origin !== value) {
      throw new ConfigError('CARNET_CORS_ORIGINS', `"${value}" is not an origin (expected scheme://host[:port] in lower case, no path nor trailing slash; or * alone)`);
    }
    return origin;
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env, 'PORT', 8080, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const baseUrl = (url(env, 'CARNET_BASE_URL', ['http:', 'https:']) ?? `http://${host}:${port}/fhir`).replace(/\/+$/, '');
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  const mongodbUri = url(env, 'MONGODB_URI', ['mongodb:', 'mongodb+srv:']);
  const authJwks = env.CARNET_AUTH_JWKS || undefined;
  if (authJwks?.startsWith('http://')) throw new ConfigError('CARNET_AUTH_JWKS', 'a remote JWKS must use https');
  if (authJwks && !env.CARNET_AUTH_ISSUER) throw new ConfigError('CARNET_AUTH_ISSUER', 'required when CARNET_AUTH_JWKS is set');
  if (authJwks && !env.CARNET_AUTH_AUDIENCE) throw new ConfigError('CARNET_AUTH_AUDIENCE', 'required when CARNET_AUTH_JWKS is set');
  const authServer = {
    authDiscovery: authUrl(env, 'CARNET_AUTH_DISCOVERY'),
    authAuthorizationEndpoint: authUrl(env, 'CARNET_AUTH_AUTHORIZATION_ENDPOINT'),
    authTokenEndpoint: authUrl(env, 'CARNET_AUTH_TOKEN_ENDPOINT'),
  };
  for (const [name, value] of [['CARNET_AUTH_DISCOVERY', authServer.authDiscovery], ['CARNET_AUTH_AUTHORIZATION_ENDPOINT', authServer.authAuthorizationEndpoint], ['CARNET_AUTH_TOKEN_ENDPOINT', authServer.authTokenEndpoint]]) {
    if (value && !authJwks) throw new ConfigError(name!, 'needs CARNET_AUTH_JWKS: the local development issuer has no authorization server');
  }
  const defaultCount = int(env, 'CARNET_DEFAULT_COUNT', 20, 1, 1000);
  return {
    port,
    host,
    baseUrl,
    dataDir: env.CARNET_DATA_DIR || './data',
    mongodbUri,
    mongodbDb: env.MONGODB_DB || 'carnet',
    authJwks,
    authIssuer: env.CARNET_AUTH_ISSUER || undefined,
    authAudience: env.CARNET_AUTH_AUDIENCE || undefined,
    ...authServer,
    logLevel,
    bodyLimit: int(env, 'CARNET_BODY_LIMIT', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxDepth: int(env, 'CARNET_MAX_DEPTH', 64, 8, 1000),
    defaultCount,
    maxCount: int(env, 'CARNET_MAX_COUNT', 1000, defaultCount, 10000),
    maxBundleEntries: int(env, 'CARNET_MAX_BUNDLE_ENTRIES', 1000, 1, 100000),
    binaryLimit: int(env, 'CARNET_BINARY_LIMIT', 64 * 1024 * 1024, 1, 4 * 1024 * 1024 * 1024),
    searchBudget: int(env, 'CARNET_SEARCH_BUDGET', 100_000, 1, 1_000_000_000),
    audit: onOff(env, 'CARNET_AUDIT', true),
    maxStringLength: int(env, 'CARNET_MAX_STRING_LENGTH', 1024 * 1024, 1, 1024 * 1024 * 1024),
    maxArrayItems: int(env, 'CARNET_MAX_ARRAY_ITEMS', 1_000, 1, 10_000_000),
    maxElements: int(env, 'CARNET_MAX_ELEMENTS', 5_000, 1, 100_000_000),
    workers: workers(env),
    corsOrigins: corsOrigins(env),
    maxConnections: int(env, 'CARNET_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    requestTimeoutMs: int(env, 'CARNET_REQUEST_TIMEOUT', 300, 1, 86_400) * 1000,
    jobs: onOff(env, 'CARNET_JOBS', true),
    auditRetention: { reads: duration(env, 'CARNET_AUDIT_RETENTION_READS', 'P6M'), writes: duration(env, 'CARNET_AUDIT_RETENTION_WRITES', 'P10Y') },
    exportMaxJobs: int(env, 'CARNET_EXPORT_MAX_JOBS', 2, 1, 1000),
    exportFileBytes: int(env, 'CARNET_EXPORT_FILE_BYTES', 256 * 1024 * 1024, 1, 64 * 1024 * 1024 * 1024),
    exportKeepSeconds: int(env, 'CARNET_EXPORT_KEEP', 24 * 60 * 60, 1, 365 * 24 * 60 * 60),
    preventionCron: cronExpression(env, 'CARNET_PREVENTION_CRON', '0 2 * * *'),
    preventionBatch: int(env, 'CARNET_PREVENTION_BATCH', 500, 1, 100_000),
    preventionRules: env.CARNET_PREVENTION_RULES || undefined,
    subscriptions: {
      allowedHosts: allowedHosts(env),
      maxAttempts: int(env, 'CARNET_SUBSCRIPTION_MAX_ATTEMPTS', 8, 1, 100),
      retryMs: int(env, 'CARNET_SUBSCRIPTION_RETRY_MS', 5_000, 1, 3_600_000),
      lagMs: int(env, 'CARNET_SUBSCRIPTION_LAG_MS', 2_000, 0, 600_000),
      timeoutMs: int(env, 'CARNET_SUBSCRIPTION_TIMEOUT_MS', 10_000, 100, 300_000),
    },
  };
}

/** The configuration, or the process ends with one line naming the invalid variable (exit 78, EX_CONFIG). */
export function loadConfigOrExit(program: string, env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${program}: invalid configuration: ${e.message}\n`);
    process.exit(78);
  }
}
