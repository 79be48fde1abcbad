// The ceiling on this stack: bare Fastify answering the same JSON bytes from memory.
import Fastify from 'fastify';

const body = process.env.BENCH_BODY ?? '{}';
const app = Fastify({ logger: false });
app.get('/fhir/Patient/:id', async (_req, reply) => reply.header('content-type', 'application/fhir+json; charset=utf-8').send(body));
app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => process.stdout.write('ready\n'));
