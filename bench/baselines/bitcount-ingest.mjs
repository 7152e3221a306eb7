// Baseline for scenario c: the naive design Spool replaces. It appends, then measures the buffer
// with BITCOUNT, which reads the whole string: O(buffer size) on every request.
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL);
const app = Fastify({ logger: false });
app.post('/v1/streams/:stream/events', async (request, reply) => {
  const key = `naive:{${request.params.stream}}:buf`;
  await redis.append(key, `${JSON.stringify({ ...request.body, receivedAt: new Date().toISOString() })}\n`);
  const bits = await redis.bitcount(key);
  return reply.code(202).send({ accepted: 1, rejected: [], measured: bits });
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
