/**
 * The baseline server: a bare Fastify route at Parley's webhook path that parses the form and
 * answers empty TwiML, in a process of its own. Prints a `ready` line like serve-parley.ts.
 */
import formbody from '@fastify/formbody';
import Fastify from 'fastify';

const app = Fastify();
await app.register(formbody);
app.post('/webhooks/twilio/messages', async (_request, reply) =>
  reply.type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response/>'),
);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`ready ${url} ${url} ACbare bare +15550000001\n`);
process.once('SIGTERM', () => {
  app.close().then(() => process.exit(0));
});
