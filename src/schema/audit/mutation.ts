import type { GraphQLResolveInfo } from 'graphql';
import { auditedWrite, type WriteOutcome } from '../../audit/audited-write.js';
import type { Context } from '../../context.js';
import type { Transaction } from '../../db/queries/executor.js';
import { ErrorCode, rateLimited, unauthenticated } from '../errors.js';
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
 * The `authScopes` of a mutation, run before anything else of it. In this
 * order, so that refusals cost as much as attempts:
 * 1. the attempt spends the actor's and the client address's allowance
 *    (MUTATION_RATE_LIMIT, MUTATION_RATE_LIMIT_PER_ADDRESS), whoever the
 *    caller is: past either, RATE_LIMITED;
 * 2. a credential that was sent but is invalid: UNAUTHENTICATED (HTTP 401);
 * 3. no credential, or not an admin: UNAUTHENTICATED or FORBIDDEN.
 * Each refusal is counted in the audit trail, one row per actor, address,
 * operation and outcome per window (see refusal-audit.ts), before the
 * caller gets its error.
 */
export function adminOnly(resourceType: string) {
  return async (
    _parent: unknown,
    _args: unknown,
    context: Context,
    info: GraphQLResolveInfo,
  ): Promise<boolean> => {
    const { mutationRate, refusals } = context.services;
    const actor = context.credentialRefusal
      ? INVALID_CREDENTIAL_ACTOR
      : (context.viewer?.actor ?? 'anonymous');
    const refuse = (error: string) =>
      refusals.record({
        actor,
        address: context.clientAddress,
        operation: info.fieldName,
        resourceType,
        error,
      });
    const decision = await mutationRate.take(actor, context.clientAddress);
    if (!decision.allowed) {
      await refuse(ErrorCode.RateLimited);
      throw rateLimited(
        `Too many mutations: at most ${decision.limit} every ${mutationRate.windowSeconds} s for one ${decision.exhausted === 'actor' ? 'actor' : 'client address'}; retry in ${decision.retryAfterSeconds} s.`,
        decision.retryAfterSeconds,
      );
    }
    if (context.credentialRefusal) {
      await refuse(INVALID_CREDENTIALS);
      throw unauthenticated(`Invalid credentials: ${context.credentialRefusal}`);
    }
    if (context.viewer?.role === 'admin') return true;
    await refuse(context.viewer ? ErrorCode.Forbidden : ErrorCode.Unauthenticated);
    return false;
  };
}

/** The actor of attempts made with a credential that did not verify (it names nobody). */
export const INVALID_CREDENTIAL_ACTOR = 'invalid-credential';
/** The audit `details.error` of those attempts. */
export const INVALID_CREDENTIALS = 'INVALID_CREDENTIALS';

/**
 * Runs a mutation's validation and writes in one transaction with its audit
 * row (see auditedWrite). adminOnly has already let the attempt through,
 * rate limit included.
 */
export async function runAuditedMutation<T>(
  context: Context,
  attempt: MutationAttempt,
  write: (tx: Transaction) => Promise<WriteOutcome<T>>,
  translateError?: (error: unknown) => unknown,
): Promise<T> {
  const { db, log } = context.services;
  return auditedWrite(
    { db, log, describeFailure, translateError },
    // adminOnly let the call through: there is a viewer.
    { ...attempt, actor: context.viewer?.actor ?? 'anonymous' },
    write,
  );
}
