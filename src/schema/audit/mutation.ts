import type { GraphQLResolveInfo } from 'graphql';
import { auditedWrite, recordFailedAttempt, type WriteOutcome } from '../../audit/audited-write.js';
import type { Context } from '../../context.js';
import type { Transaction } from '../../db/queries/executor.js';
import { rateLimited } from '../errors.js';
import { ValidationError } from '../validation.js';

export interface MutationAttempt {
  operation: string;
  resourceType: string;
  resourceId?: string | null;
  details?: Record<string, unknown>;
}

function describeFailure(error: unknown): Record<string, unknown> {
  if (error instanceof ValidationError) {
    return {
      error: 'VALIDATION',
      fieldErrors: error.fieldErrors.map(({ path, code }) => ({ path: path.join('.'), code })),
    };
  }
  return { error: 'INTERNAL' };
}

/**
 * The `authScopes` of a mutation: admins only, and a refused attempt is
 * recorded (in its own transaction) before the caller gets its
 * UNAUTHENTICATED or FORBIDDEN error.
 */
export function adminOnly(resourceType: string) {
  return async (
    _parent: unknown,
    _args: unknown,
    context: Context,
    info: GraphQLResolveInfo,
  ): Promise<boolean> => {
    if (context.viewer?.role === 'admin') return true;
    await recordFailedAttempt(
      context.services,
      {
        actor: context.viewer?.actor ?? 'anonymous',
        operation: info.fieldName,
        resourceType,
      },
      { error: context.viewer ? 'FORBIDDEN' : 'UNAUTHENTICATED' },
    );
    return false;
  };
}

/**
 * Spends one of the actor's mutations for the window (MUTATION_RATE_LIMIT);
 * past the limit the attempt is recorded as refused and RATE_LIMITED thrown,
 * before anything is validated or written.
 */
export async function enforceMutationRate(
  context: Context,
  attempt: MutationAttempt,
): Promise<void> {
  const { mutationRate } = context.services;
  const actor = context.viewer?.actor ?? 'anonymous';
  const decision = await mutationRate.take(actor);
  if (decision.allowed) return;
  await recordFailedAttempt(
    context.services,
    { ...attempt, actor },
    { ...attempt.details, error: 'RATE_LIMITED' },
  );
  throw rateLimited(
    `Too many mutations: at most ${mutationRate.limit} every ${mutationRate.windowSeconds} s for one actor; retry in ${decision.retryAfterSeconds} s.`,
    decision.retryAfterSeconds,
  );
}

/** Runs a mutation's validation and writes in one transaction with its audit row (see auditedWrite). */
export async function runAuditedMutation<T>(
  context: Context,
  attempt: MutationAttempt,
  write: (tx: Transaction) => Promise<WriteOutcome<T>>,
  translateError?: (error: unknown) => unknown,
): Promise<T> {
  await enforceMutationRate(context, attempt);
  const { db, log } = context.services;
  return auditedWrite(
    { db, log, describeFailure, translateError },
    // adminOnly let the call through: there is a viewer.
    { ...attempt, actor: context.viewer?.actor ?? 'anonymous' },
    write,
  );
}
