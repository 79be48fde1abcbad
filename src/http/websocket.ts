import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RefusalRecorder } from '../audit/unauthenticated.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { FhirError } from '../errors.js';
import { writerOf } from '../interactions/records.js';
import type { Store } from '../store/store.js';
import { WS } from '../subscriptions/queue.js';

/** Where clients open the R4 websocket channel of Subscriptions (published in the CapabilityStatement). */
export const WEBSOCKET_PATH = '/fhir/websocket';

export interface WebsocketDeps {
  authenticator: Authenticator;
  store: Store;
  /** How often bound Subscriptions' events are looked for in the store, ms. */
  pollMs?: number;
  /** Records an upgrade refused for want of a valid token (401), as the HTTP requests' (auth-hook.ts). */
  refusals?: RefusalRecorder;
}

interface Binding {
  /** The last event key seen. */
  after: string;
  sockets: Set<WebSocket>;
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

const REFUSALS = { 401: ['Unauthorized', 'login'], 404: ['Not Found', 'not-found'], 503: ['Service Unavailable', 'transient'] } as const;

function refuse(socket: Duplex, status: keyof typeof REFUSALS, reason: string): void {
  const [text, code] = REFUSALS[status];
  const body = JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: reason }] });
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/fhir+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * R4's websocket channel (http://hl7.org/fhir/R4/subscription.html#2.46.7.2): the client opens a
 * websocket with its bearer token on the upgrade request (the Authorization header, as any
 * request), sends `bind <id>` for a websocket Subscription it owns (the writer of its current
 * version), gets `bound <id>`, then `ping <id>` for each notification. The events come from the
 * store (the process running the subscription job publishes them there), so a socket may be held
 * by any server on the store.
 */
export function registerWebsocket(app: FastifyInstance, deps: WebsocketDeps): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const bindings = new Map<string, Binding>();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      for (const [id, b] of bindings) {
        const events = await deps.store.listState(`${WS}${id}:`, { after: b.after, limit: 100 });
        for (const e of events) for (const ws of b.sockets) ws.send(`ping ${id}`);
        if (events.length > 0) b.after = events[events.length - 1].key;
      }
    } catch (err) {
      app.log.warn({ err }, 'websocket events could not be read; trying again');
    } finally {
      polling = false;
    }
  };

  const bind = async (ws: WebSocket, principal: Principal, id: string): Promise<string> => {
    if (!ID.test(id)) return `error ${id} not a Subscription id`;
    const record = await deps.store.read('Subscription', id);
    const sub = record && !record.deleted ? record.resource : undefined;
    // Someone else's Subscription is not known, exactly as one that does not exist.
    if (!sub || record!.writer !== writerOf(principal)) return `error ${id} Subscription/${id} is not known`;
    if ((sub.channel as { type?: string } | undefined)?.type !== 'websocket') return `error ${id} Subscription/${id} is not a websocket Subscription`;
    if (sub.status !== 'active') return `error ${id} Subscription/${id} is ${String(sub.status)}, not active`;
    let b = bindings.get(id);
    if (!b) bindings.set(id, (b = { after: `${WS}${id}:${new Date().toISOString()}`, sockets: new Set() }));
    b.sockets.add(ws);
    timer ??= setInterval(() => void poll(), deps.pollMs ?? 250);
    return `bound ${id}`;
  };

  const unbind = (ws: WebSocket) => {
    for (const [id, b] of bindings) {
      b.sockets.delete(ws);
      if (b.sockets.size === 0) bindings.delete(id);
    }
    if (bindings.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] !== WEBSOCKET_PATH) return refuse(socket, 404, 'No websocket here');
    deps.authenticator.authenticate(req.headers.authorization).then(
      (principal) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('message', (data, isBinary) => {
            const text = isBinary ? '' : data.toString().trim();
            const m = /^bind\s+(\S+)$/.exec(text);
            if (!m) return ws.send('error expected "bind <Subscription id>"');
            bind(ws, principal, m[1]).then(
              (answer) => ws.send(answer),
              (err) => {
                app.log.error({ err }, 'a websocket bind failed');
                ws.send(`error ${m[1]} the server could not bind it`);
              },
            );
          });
          ws.on('close', () => unbind(ws));
          ws.on('error', () => unbind(ws));
        });
      },
      (err: unknown) => {
        const status = err instanceof FhirError && err.status === 401 ? 401 : 404;
        const reason = err instanceof FhirError ? err.message : 'refused';
        if (status !== 401 || !deps.refusals) return refuse(socket, status, reason);
        const userAgent = req.headers['user-agent'];
        const refusals = deps.refusals;
        Promise.resolve()
          .then(() => refusals.record({ address: req.socket.remoteAddress ?? 'unknown', ...(userAgent ? { userAgent } : {}), path: WEBSOCKET_PATH, reason, requestId: randomUUID() }))
          .then(
            () => refuse(socket, 401, reason),
            (e: unknown) => {
              app.log.error({ err: e }, 'the access history could not be recorded');
              refuse(socket, 503, 'The access history could not be recorded; try again');
            },
          );
      },
    );
  });

  app.addHook('preClose', async () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    for (const ws of wss.clients) ws.terminate();
    bindings.clear();
  });
}
