import type http from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Yoga } from './yoga.js';

export interface WebSocketEndpoint {
  /** Open sockets right now. */
  readonly sockets: number;
  /** Closes every socket with 1001 (going away) and stops accepting. */
  close(): Promise<void>;
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * graphql-ws on the same path as HTTP GraphQL. Every operation goes through
 * `yoga.getEnveloped`, so the WebSocket transport gets the same context
 * factory, plugins, limits and error masking as HTTP: there is no second
 * context pipeline to drift.
 */
export function attachWebSocketServer(
  server: http.Server,
  yoga: Yoga,
  options: { path?: string; keepAliveMs?: number } = {},
): WebSocketEndpoint {
  const wss = new WebSocketServer({ server, path: options.path ?? yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(params.query);
        } catch (error) {
          return [error as never];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
    options.keepAliveMs ?? 12_000,
  );

  return {
    get sockets() {
      return wss.clients.size;
    },
    async close() {
      for (const socket of wss.clients) socket.close(1001, 'Server shutting down');
      await disposable.dispose();
    },
  };
}
