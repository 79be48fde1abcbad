import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { TestServer } from '../harness.js';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  port: number;
  received: Received[];
  /** What the receiver answers (status, headers). */
  answer: { status: number; headers?: Record<string, string> };
  close(): Promise<void>;
}

/** A rest-hook endpoint on 127.0.0.1 that records what it is sent. `port` 0: any free port. */
export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const answer: Receiver['answer'] = { status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(answer.status, answer.headers ?? {}).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    answer,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 where nothing listens (now). */
export async function freePort(): Promise<number> {
  const r = await startReceiver();
  await r.close();
  return r.port;
}

/**
 * Runs the subscription job (what the scheduler does every second) until `done` holds, at most
 * `rounds` times: bounded, and no timing threshold.
 */
export async function pump(s: TestServer, done: () => boolean | Promise<boolean>, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await s.app.scheduler.runNow('subscriptions');
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect.fail(`the condition did not hold after ${rounds} runs of the subscription job`);
}

export function restHook(criteria: string, endpoint: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { resourceType: 'Subscription', status: 'requested', reason: 'test', criteria, channel: { type: 'rest-hook', endpoint, ...extra } };
}

export function document(patient: string, title = 'compte rendu'): Record<string, unknown> {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
    subject: { reference: `Patient/${patient}` },
    description: title,
    date: new Date().toISOString(),
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(title).toString('base64') } }],
  };
}
