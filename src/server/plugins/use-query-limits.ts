import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../../config.js';
import { ErrorCode } from '../../schema/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../schema/pagination.js';
import { type CostModel, estimateQueryCost } from '../query-cost.js';

/** Plain lists without a size argument (a consultant's skills or documents) are short. */
const DEFAULT_LIST_SIZE = 10;

export const COST_MODEL: CostModel = {
  defaultPageSize: DEFAULT_PAGE_SIZE,
  maxPageSize: MAX_PAGE_SIZE,
  defaultListSize: DEFAULT_LIST_SIZE,
};

/**
 * The cost check needs the variables (`first: $pageSize`), which validation
 * does not see and whose result yoga caches per document; so it runs at the
 * start of execution, still before any resolver.
 */
function useCostLimit(maxCost: number): Plugin {
  const check = (args: Parameters<typeof estimateQueryCost>[0]) => {
    const cost = estimateQueryCost(args, COST_MODEL);
    if (cost <= maxCost) return undefined;
    return {
      errors: [
        new GraphQLError(
          `Query cost of ${cost} exceeds the maximum of ${maxCost}: ask for smaller pages or fewer nested lists.`,
          { extensions: { code: ErrorCode.ValidationFailed, cost, maxCost } },
        ),
      ],
    };
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const rejected = check(args);
      if (rejected) setResultAndStopExecution(rejected);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const rejected = check(args);
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
  const plugins: Plugin[] = [
    ...(armor.protect().plugins as Plugin[]),
    useCostLimit(limits.maxCost),
  ];
  if (!limits.introspection) plugins.push(useDisableIntrospection());
  return plugins;
}
