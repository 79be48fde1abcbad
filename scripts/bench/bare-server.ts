// The ceiling on this stack: bare Fastify answering the same JSON bytes from memory, in as many
// processes as the carnet it is compared with (BENCH_BARE_WORKERS, Node's cluster like carnet's).
import cluster from 'node:cluster';
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
  app.get('/fhir/Patient/:id', async (_req, reply) => reply.header('content-type', 'application/fhir+json; charset=utf-8').send(body));
  app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => process.stdout.write('ready\n'));
}
