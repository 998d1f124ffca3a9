// A bare Fastify app for tests that serve federation routes on loopback: errors answered as the
// API answers them (toApiError), and close not waiting for handlers whose client went away.
import Fastify, { type FastifyInstance } from "fastify";
import { toApiError } from "../../operators/api/errors.ts";

export function testApp(): FastifyInstance {
  const app = Fastify({ forceCloseConnections: true });
  app.setErrorHandler((err, _request, reply) => {
    const e = toApiError(err);
    return reply.code(e.status).send(e.toBody());
  });
  return app;
}
