import { z } from 'zod';
import { builder } from './builder.js';

export type FieldErrorCode = 'INVALID' | 'NOT_FOUND' | 'TAKEN' | 'OUT_OF_RANGE' | 'CONFLICT';

/** One thing wrong with the input, at a path such as `["input", "email"]`. */
export interface FieldProblem {
  path: string[];
  code: FieldErrorCode;
  message: string;
}

/**
 * Expected refusals of a mutation's input. The errors plugin turns it into
 * a `ValidationError` member of the mutation's result union (data, not a
 * GraphQL error), and the mutation writes nothing.
 */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(readonly fieldErrors: FieldProblem[]) {
    super(fieldErrors.map((problem) => `${problem.path.join('.')}: ${problem.message}`).join('; '));
  }
}

/** Collects problems so a client sees all of them at once. */
export class Problems {
  readonly list: FieldProblem[] = [];
  add(path: string[], code: FieldErrorCode, message: string): void {
    this.list.push({ path, code, message });
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  throwIfAny(): void {
    if (!this.empty) throw new ValidationError(this.list);
  }
}

const emailSchema = z.email();
export const isEmail = (value: string) => emailSchema.safeParse(value).success;

const FieldErrorCodeEnum = builder.enumType('FieldErrorCode', {
  values: {
    INVALID: { description: 'Malformed or out of the allowed set.' },
    NOT_FOUND: { description: 'The referenced record does not exist.' },
    TAKEN: { description: 'Must be unique and is already used.' },
    OUT_OF_RANGE: { description: 'A number or date outside its bounds or order.' },
    CONFLICT: { description: 'The record is not in a state that allows the change.' },
  } as const,
});

const FieldError = builder.objectRef<FieldProblem>('FieldError').implement({
  description: 'What is wrong with one input field.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'E.g. ["input", "email"].' }),
    code: t.field({ type: FieldErrorCodeEnum, resolve: (problem) => problem.code }),
    message: t.exposeString('message'),
  }),
});

export const MutationError = builder.interfaceRef<Error>('MutationError').implement({
  description: 'An expected failure of a mutation: nothing was written.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [MutationError],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    fieldErrors: t.field({ type: [FieldError], resolve: (error) => error.fieldErrors }),
  }),
});

const TEXT_MAX = 200;

/** Trimmed, non-empty, at most 200 characters. */
export function checkText(problems: Problems, path: string[], value: string): string {
  const trimmed = value.trim();
  if (trimmed === '') problems.add(path, 'INVALID', 'must not be empty');
  else if (trimmed.length > TEXT_MAX) {
    problems.add(path, 'INVALID', `must be at most ${TEXT_MAX} characters`);
  }
  return trimmed;
}

const MAX_DAILY_RATE = 100_000;

export function checkDailyRate(problems: Problems, path: string[], value: number): void {
  if (value <= 0 || value > MAX_DAILY_RATE) {
    problems.add(path, 'OUT_OF_RANGE', `must be between 1 and ${MAX_DAILY_RATE}`);
  }
}
