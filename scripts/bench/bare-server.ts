// The ceiling on this stack: bare Fastify answering the same JSON bytes from memory, in as many
// processes as the carnet it is compared with (BENCH_BARE_WORKERS, Node's cluster like carnet's).
// With BENCH_SYNC_FILE, each answer first waits until a record of the same size as its body is
// durable in that file: the floor of durable-before-answer on this machine's disk, with nothing
// built or hashed (group commit as carnet's journal: one fdatasync at a time, the records that
// arrive meanwhile go together in the next).
import cluster from 'node:cluster';
import { openSync } from 'node:fs';
import { groupSync } from './group-sync.js';
import Fastify from 'fastify';

const workers = Number(process.env.BENCH_BARE_WORKERS ?? 1);
if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) cluster.fork().once('listening', () => ++ready === workers && process.stdout.write('ready\n'));
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const body = process.env.BENCH_BODY ?? '{}';
  const app = Fastify({ logger: false });
  const durable = process.env.BENCH_SYNC_FILE ? groupSync(openSync(process.env.BENCH_SYNC_FILE, 'a')) : undefined;
  const record = Buffer.from(body);
  app.get('/fhir/Patient/:id', async (_req, reply) => {
    if (durable) await durable.append(record);
    return reply.header('content-type', 'application/fhir+json; charset=utf-8').send(body);
  });
  app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => process.stdout.write('ready\n'));
}

