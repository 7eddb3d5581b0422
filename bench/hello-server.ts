/**
 * The reference server of the throughput ratios: a plain graphql-yoga
 * hello world with yoga's defaults, on the loopback port given by PORT.
 * Run by bench/run.ts as a child process, like the API.
 */
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { hello: String! }',
    resolvers: { Query: { hello: () => 'world' } },
  }),
  logging: false,
});
const server = createServer(yoga);
const port = Number(process.env.PORT ?? 0);
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
