import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../../config.js';
import type { Context } from '../../context.js';
import { ErrorCode, rateLimited, serverBusy } from '../../schema/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../schema/pagination.js';
import { createExpensiveWorkBudget, type ExpensiveWorkBudget } from '../expensive-work.js';
import { type CostModel, estimateQueryCost } from '../query-cost.js';
import { withinResponseSize } from '../response-size.js';
import { isAsyncIterable } from './results.js';

/** Plain lists without a size argument (a consultant's skills or documents) are short. */
const DEFAULT_LIST_SIZE = 10;

export const COST_MODEL: CostModel = {
  defaultPageSize: DEFAULT_PAGE_SIZE,
  maxPageSize: MAX_PAGE_SIZE,
  defaultListSize: DEFAULT_LIST_SIZE,
};

/** What a refused client is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 1;

/** Who runs an operation, for the per-client budget: the actor, else the client's address. */
function clientOf(context: Partial<Context>): string {
  if (context.viewer?.actor) return `actor:${context.viewer.actor}`;
  return `address:${context.clientAddress ?? 'unknown'}`;
}

function refusal(full: 'client' | 'instance', limits: LimitsConfig): GraphQLError {
  return full === 'client'
    ? rateLimited(
        `Too many expensive operations at once: at most ${limits.maxExpensivePerClient} per client; retry in ${RETRY_AFTER_SECONDS} s.`,
        RETRY_AFTER_SECONDS,
      )
    : serverBusy(
        `The server runs as many expensive operations as it takes; retry in ${RETRY_AFTER_SECONDS} s.`,
        RETRY_AFTER_SECONDS,
      );
}

/**
 * The cost limit and the budget for expensive work. The cost check needs the
 * variables (`first: $pageSize`), which validation does not see and whose
 * result yoga caches per document; so it runs at the start of execution,
 * still before any resolver. An operation whose cost reaches
 * `expensiveCost` then needs a slot of the {@link ExpensiveWorkBudget},
 * held until its execution ends: past a cap it is refused at once, with a
 * code and a Retry-After, rather than queued or slowed down with everyone
 * else. A result over `responseMaxBytes` is replaced by an error before it
 * is serialized. Subscriptions get the cost check only: their events share
 * one execution per version (see the stats fan-out).
 */
function useCostLimit(limits: LimitsConfig): Plugin {
  const { maxCost } = limits;
  const budget = createExpensiveWorkBudget({
    perClient: limits.maxExpensivePerClient,
    perInstance: limits.maxExpensivePerInstance,
  });
  const check = (args: Parameters<typeof estimateQueryCost>[0]) => {
    const cost = estimateQueryCost(args, COST_MODEL);
    if (cost <= maxCost) return { cost, rejected: undefined };
    return {
      cost,
      rejected: {
        errors: [
          new GraphQLError(
            `Query cost of ${cost} exceeds the maximum of ${maxCost}: ask for smaller pages or fewer nested lists.`,
            { extensions: { code: ErrorCode.ValidationFailed, cost, maxCost } },
          ),
        ],
      },
    };
  };
  const tooLarge = () => ({
    data: null,
    errors: [
      new GraphQLError(
        `The result is larger than ${limits.responseMaxBytes} bytes: ask for smaller pages or fewer fields.`,
        { extensions: { code: ErrorCode.ResponseTooLarge, maxBytes: limits.responseMaxBytes } },
      ),
    ],
  });
  return {
    onExecute({ args, executeFn, setExecuteFn, setResultAndStopExecution }) {
      const { cost, rejected } = check(args);
      if (rejected) {
        setResultAndStopExecution(rejected);
        return;
      }
      let release: (() => void) | undefined;
      if (limits.expensiveCost > 0 && cost >= limits.expensiveCost) {
        const slot = budget.tryAcquire(clientOf(args.contextValue as Partial<Context>));
        if (!slot.granted) {
          setResultAndStopExecution({ errors: [refusal(slot.full, limits)] });
          return;
        }
        release = slot.release;
      }
      if (!release && limits.responseMaxBytes === 0) return;
      setExecuteFn(async (executeArgs) => {
        try {
          const result = await executeFn(executeArgs);
          if (limits.responseMaxBytes === 0 || isAsyncIterable(result)) return result;
          return withinResponseSize(result, limits.responseMaxBytes) ?? tooLarge();
        } finally {
          // However execution ended, thrown included: a lost slot would refuse expensive work for good.
          release?.();
        }
      });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const { rejected } = check(args);
      if (rejected) setResultAndStopExecution(rejected);
    },
  };
}

/**
 * armor throws out of validation by default, which graphql-ws reports as an
 * internal error (4500); reported through the validation context, the
 * rejection is an ordinary validation error on both transports. armor words
 * them as syntax errors, which they are not.
 */
const reportAsValidationError = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) => {
      context?.reportError(
        new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
          extensions: { code: ErrorCode.ValidationFailed },
        }),
      );
    },
  ],
};

function useDisableIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/**
 * Every limit on what one operation may ask for, as envelop plugins: they run
 * for HTTP and for graphql-ws alike (ws.ts goes through `yoga.getEnveloped`).
 * Depth, aliases, directives and tokens are graphql-armor's; they reject at
 * parse or validation time. armor's cost limit is left off because it cannot
 * see `first`: {@link estimateQueryCost} does.
 */
export function useQueryLimits(limits: LimitsConfig): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: {
      n: limits.maxDepth,
      ignoreIntrospection: true,
      flattenFragments: true,
      ...reportAsValidationError,
    },
    maxAliases: { n: limits.maxAliases, ...reportAsValidationError },
    maxDirectives: { n: limits.maxDirectives, ...reportAsValidationError },
    // Counted while parsing: there is no validation context yet, so it throws a syntax error.
    maxTokens: { n: limits.maxTokens },
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: !limits.fieldSuggestions, mask: '' },
  });
  const plugins: Plugin[] = [...(armor.protect().plugins as Plugin[]), useCostLimit(limits)];
  if (!limits.introspection) plugins.push(useDisableIntrospection());
  return plugins;
}
