// The ceiling on this stack: bare Fastify answering the same JSON bytes from memory, in as many
// processes as the carnet it is compared with (BENCH_BARE_WORKERS, Node's cluster like carnet's).
// With BENCH_SYNC_FILE, each answer first waits until a record of the same size as its body is
// durable in that file: the floor of durable-before-answer on this machine's disk, with nothing
// built or hashed (group commit as carnet's journal: one fdatasync at a time, the records that
// arrive meanwhile go together in the next).
import cluster from 'node:cluster';
import { fdatasync, openSync, write } from 'node:fs';
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
  const durable = process.env.BENCH_SYNC_FILE ? groupCommit(process.env.BENCH_SYNC_FILE, Buffer.from(body)) : undefined;
  app.get('/fhir/Patient/:id', async (_req, reply) => {
    if (durable) await durable();
    return reply.header('content-type', 'application/fhir+json; charset=utf-8').send(body);
  });
  app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => process.stdout.write('ready\n'));
}

/** Resolves once a copy of `record` is on disk: written and synced with the others waiting at the time. */
function groupCommit(path: string, record: Buffer): () => Promise<void> {
  const fd = openSync(path, 'a');
  let waiting: Array<() => void> = [];
  let syncing = false;
  const next = () => {
    if (syncing || waiting.length === 0) return;
    syncing = true;
    const group = waiting;
    waiting = [];
    write(fd, Buffer.concat(group.map(() => record)), (err) => {
      if (err) throw err;
      fdatasync(fd, (e) => {
        if (e) throw e;
        syncing = false;
        for (const done of group) done();
        next();
      });
    });
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      setImmediate(next);
    });
}
