import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { JobLog } from '../jobs/scheduler.js';
import { buildRecord } from '../interactions/records.js';
import { parseScopes } from '../auth/scopes.js';
import type { SearchRegistry } from '../search/registry.js';
import { StoreConflict, type CurrentRecord, type Store } from '../store/store.js';
import { FHIR_JSON } from './check.js';
import { endpointRefusal, parseHeaders } from './criteria.js';
import { ownerAccess, ownerPrincipal, SERVER_WRITER, versionRecord, type RecordTest } from './owner.js';
import { QUEUE, finish, publishWs, type QueueItem } from './queue.js';

export interface DeliverDeps {
  store: Store;
  registry: SearchRegistry;
  baseUrl: string;
  allowedHosts: readonly string[];
  maxAttempts: number;
  retryMs: number;
  timeoutMs: number;
  log: JobLog;
  /** Notifications sent at once. */
  concurrency?: number;
}

const MAX_DELAY_MS = 3_600_000;
const PAGE = 1000;

interface Channel {
  type?: string;
  endpoint?: string;
  payload?: string;
  header?: string[];
}

/**
 * One rest-hook call: without payload a POST with no body to the endpoint; with
 * application/fhir+json a PUT of the version to [endpoint]/[type]/[id] (R4 subscription.html).
 * Only the Subscription's own headers go out. A redirect is a failure, never followed. Resolves
 * undefined on a 2xx, else why it failed.
 */
function call(channel: Channel, item: QueueItem, body: string | undefined, timeoutMs: number): Promise<string | undefined> {
  const base = channel.endpoint!;
  const url = new URL(body === undefined ? base : `${base.replace(/\/+$/, '')}/${item.type}/${item.id}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of parseHeaders(channel.header)) headers[name] = value;
  if (body !== undefined) headers['content-type'] = `${FHIR_JSON}; charset=utf-8`;
  headers['content-length'] = String(body === undefined ? 0 : Buffer.byteLength(body));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, { method: body === undefined ? 'POST' : 'PUT', headers, timeout: timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? undefined : status >= 300 && status < 400 ? `the endpoint answered a redirect (${status}), which is not followed` : `the endpoint answered ${status}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(`the endpoint could not be reached: ${err.message}`));
    req.end(body);
  });
}

/**
 * Drains the queue: sends what is due, retries a failure after retryMs, doubled at each further
 * failure, and after maxAttempts failures sets the Subscription to `error` (R4: the client fixes
 * it and asks again with `requested`). A notification of a Subscription no longer active is dropped.
 */
export function createSender(deps: DeliverDeps) {
  const setError = async (sub: CurrentRecord, reason: string) => {
    const resource = { ...sub.resource!, status: 'error', error: reason };
    const principal = { subject: SERVER_WRITER.slice('client:'.length), scope: '', scopes: parseScopes('') };
    const record = buildRecord(resource, 'Subscription', sub.id, sub, { now: () => new Date(), registry: deps.registry, baseUrl: deps.baseUrl, principal });
    try {
      // The compartment a patient's Subscription joined when written stays (src/interactions/prepare.ts).
      await deps.store.commit([{ record: { ...record, comp: sub.comp }, expect: { kind: 'version', versionId: sub.versionId } }]);
      deps.log.info({ subscription: sub.id, reason }, 'a Subscription was set to error');
    } catch (e) {
      // Its owner changed it meanwhile: their version stands.
      if (!(e instanceof StoreConflict)) throw e;
    }
  };

  return {
    /** Sends what is due; returns how many were sent. */
    async send(now: Date, signal?: AbortSignal): Promise<number> {
      const due = (await deps.store.listState(QUEUE, { limit: PAGE })).filter((e) => (e.value as QueueItem).nextAt <= now.getTime());
      const subs = new Map<string, Promise<CurrentRecord | undefined>>();
      const subOf = (id: string) => {
        let p = subs.get(id);
        if (!p) subs.set(id, (p = deps.store.read('Subscription', id)));
        return p;
      };
      const access = new Map<string, Promise<(type: string) => RecordTest>>();
      const accessOf = (owner: string) => {
        let a = access.get(owner);
        if (!a) access.set(owner, (a = ownerAccess(deps.store, deps.registry, ownerPrincipal(owner)!, now)));
        return a;
      };
      let sent = 0;
      const one = async (key: string, rev: number, item: QueueItem) => {
        const sub = await subOf(item.subscription);
        const channel = (sub?.resource?.channel ?? {}) as Channel;
        if (!sub || sub.deleted || sub.resource?.status !== 'active' || !ownerPrincipal(sub.writer)) return finish(deps.store, key, rev, now.getTime());
        // Decided again at each attempt: a Consent withdrawn since the match (or during retries) stops it.
        const version = await deps.store.vread(item.type, item.id, item.versionId);
        const record = version && (await versionRecord(deps.store, deps.registry, deps.baseUrl, version));
        if (!record || !(await accessOf(sub.writer!))(item.type)(record)) return finish(deps.store, key, rev, now.getTime());
        if (channel.type === 'websocket') {
          await publishWs(deps.store, sub.id, now);
          sent++;
          return finish(deps.store, key, rev, now.getTime());
        }
        // The allow-list of today, not of the day it was written.
        let failure = endpointRefusal(channel.endpoint, deps.allowedHosts);
        if (!failure) {
          failure = await call(channel, item, channel.payload === FHIR_JSON ? JSON.stringify(version!.resource) : undefined, deps.timeoutMs);
        }
        if (!failure) {
          sent++;
          return finish(deps.store, key, rev, now.getTime());
        }
        const attempts = item.attempts + 1;
        if (attempts >= deps.maxAttempts) {
          await setError(sub, `${attempts} notifications failed; the last: ${failure}`);
          subs.delete(sub.id);
          return finish(deps.store, key, rev, now.getTime());
        }
        const delay = Math.min(MAX_DELAY_MS, deps.retryMs * 2 ** (attempts - 1));
        await deps.store.putState(QUEUE + key, { ...item, attempts, nextAt: now.getTime() + delay, lastError: failure } satisfies QueueItem, rev);
      };
      const queue = [...due];
      const workers = Array.from({ length: Math.min(deps.concurrency ?? 8, queue.length) }, async () => {
        for (let e = queue.shift(); e && !signal?.aborted; e = queue.shift()) {
          try {
            await one(e.key.slice(QUEUE.length), e.rev, e.value as QueueItem);
          } catch (err) {
            deps.log.error({ err, notification: e.key }, 'a notification could not be handled; it stays queued');
          }
        }
      });
      await Promise.all(workers);
      return sent;
    },
  };
}
