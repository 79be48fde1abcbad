import type { Store } from '../store/store.js';

/**
 * The subscriptions' internal state (src/store/store.ts getState/putState/listState):
 * - `subscriptions:cursor`: where the next dispatch pass starts reading the history;
 * - `subq:<key>`: a notification to send (the durable queue), removed once sent or given up;
 * - `subdone:<key>`: a notification already sent, kept while its version can still be read again
 *   by a pass (so a pass after a crash or a change of holder does not send it twice);
 * - `subws:<subscription>:<instant>:<seq>`: a websocket event for the servers holding the sockets.
 * A notification's key is `<version's lastUpdated>|<Subscription id>|<Type>/<id>/<versionId>`:
 * the same for the same match whoever computes it, and ordered by the version's time.
 */
export const CURSOR = 'subscriptions:cursor';
export const QUEUE = 'subq:';
export const DONE = 'subdone:';
export const WS = 'subws:';

export interface Cursor {
  /** lastUpdated from which the next pass reads. */
  since: string;
}

export interface QueueItem {
  subscription: string;
  type: string;
  id: string;
  versionId: number;
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAt: number;
  lastError?: string;
}

export interface WsEvent {
  subscription: string;
  /** Epoch ms when published. */
  at: number;
}

export const notificationKey = (lastUpdated: string, subscription: string, type: string, id: string, versionId: number) =>
  `${lastUpdated}|${subscription}|${type}/${id}/${versionId}`;

/** The version instant a notification key starts with. */
export const keyInstant = (key: string) => key.slice(0, key.indexOf('|'));

/** Queues a notification unless it is queued or was sent already. True when queued now. */
export async function enqueue(store: Store, key: string, item: QueueItem): Promise<boolean> {
  if (await store.getState(DONE + key)) return false;
  return store.putState(QUEUE + key, item, 0);
}

/** Takes a notification off the queue, remembering it was handled. */
export async function finish(store: Store, key: string, rev: number, at: number): Promise<void> {
  await store.putState(DONE + key, { at }, 0);
  await store.putState(QUEUE + key, undefined, rev);
}

let seq = 0;

/** Hands a websocket event to whichever servers hold sockets bound to the subscription. */
export async function publishWs(store: Store, subscription: string, now: Date): Promise<void> {
  seq = (seq + 1) % 1e9;
  const key = `${WS}${subscription}:${now.toISOString()}:${String(seq).padStart(9, '0')}`;
  await store.putState(key, { subscription, at: now.getTime() } satisfies WsEvent, 0);
}

/**
 * Removes what no pass will read again: sent markers of versions older than the cursor, and
 * websocket events older than `wsMaxAgeMs`. Bounded per call; the next pass goes on.
 */
export async function prune(store: Store, since: string, now: number, wsMaxAgeMs: number, wsAfter: string | undefined): Promise<string | undefined> {
  for (let page = 0; page < 10; page++) {
    const done = await store.listState(DONE, { limit: 500 });
    const old = done.filter((e) => keyInstant(e.key.slice(DONE.length)) < since);
    for (const e of old) await store.putState(e.key, undefined, e.rev);
    if (old.length < done.length || done.length < 500) break;
  }
  const events = await store.listState(WS, { limit: 500, ...(wsAfter ? { after: wsAfter } : {}) });
  for (const e of events) if ((e.value as WsEvent).at < now - wsMaxAgeMs) await store.putState(e.key, undefined, e.rev);
  return events.length < 500 ? undefined : events[events.length - 1].key;
}
