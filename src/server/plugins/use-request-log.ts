import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../logger.js';
import { shortOperationName } from '../metrics.js';
import { isAsyncIterable } from './results.js';

/**
 * One info line per executed operation: name, type, duration, error codes.
 * Variables and headers are never logged (they may carry personal data or tokens).
 */
export function useRequestLog(log: Logger): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      const fields = {
        operation: shortOperationName(operation?.name?.value),
        type: operation?.operation ?? 'unknown',
      };
      return {
        onExecuteDone({ result }) {
          if (isAsyncIterable(result)) {
            log.info(fields, 'subscription started');
            return;
          }
          const codes = result.errors?.map((error) => error.extensions?.code ?? 'UNKNOWN');
          log.info(
            { ...fields, ms: Math.round((performance.now() - started) * 10) / 10, errors: codes },
            'operation',
          );
        },
      };
    },
  };
}
