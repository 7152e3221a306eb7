// Baseline for scenario a: a bare Fastify route that parses the same JSON and answers 202,
// with no Redis: the ceiling any ingest built on Fastify can reach on this machine.
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/v1/streams/:stream/events', async (request, reply) => {
  const events = Array.isArray(request.body) ? request.body : [request.body];
  return reply.code(202).send({ accepted: events.length, rejected: [] });
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
