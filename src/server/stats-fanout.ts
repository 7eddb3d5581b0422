import {
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  getArgumentValues,
  getOperationAST,
  Kind,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Context } from '../context.js';
import type { Logger } from '../logger.js';
import { EVERY_VERSION_ROOT } from '../schema/stats/stats.js';
import { LatestValueChannel } from '../stats/latest-value-channel.js';

const SHARED_FIELD = 'statsChanged';

/**
 * What a member hands graphql-ws instead of a result. graphql-ws serializes
 * it into a short, recognisable `next` message that the socket's send
 * wrapper swaps for the group's pre-serialized bytes. A GraphQL result never
 * has a key starting with NUL, so no other message can look like it.
 */
const SPLICE_MARKER: ExecutionResult = Object.freeze({
  '\u0000sharedPayload': true,
}) as unknown as ExecutionResult;
const MESSAGE_TAIL = Buffer.from('}');

export interface StatsFanOutMetrics {
  /** Groups of identical statsChanged subscriptions running now. */
  readonly groups: number;
  /** Subscriptions served by a group now. */
  readonly members: number;
  /** Events executed for groups: one per version per group, whatever the number of members. */
  readonly executions: number;
}

export interface StatsFanOutOptions {
  log: Logger;
  /** The enveloped subscribe (yoga's plugins, masking): runs each group's one execution stream. */
  subscribe: (args: ExecutionArgs) => unknown;
}

export interface StatsFanOut {
  /**
   * graphql-ws' `onOperation`: for a plain `statsChanged` subscription whose
   * own stream was created (so the caller passed authorization and argument
   * checks), drops that stream and returns a member of the group of
   * identical subscriptions instead; anything else is left alone (undefined).
   */
  share(
    socket: WebSocket,
    id: string,
    params: SubscribePayload,
    args: ExecutionArgs,
    result: unknown,
  ): Promise<AsyncIterableIterator<ExecutionResult> | undefined>;
  readonly metrics: StatsFanOutMetrics;
  /** Ends every group; its members complete. */
  stop(): void;
}

/** One execution's `next` payload, serialized once for the whole group. */
interface Frame {
  payload: Buffer;
}

interface Member {
  channel: LatestValueChannel<Frame>;
}

interface Group {
  key: string;
  members: Set<Member>;
  latest: Frame | null;
  source: AsyncIterator<ExecutionResult> | null;
  closed: boolean;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}

/** The `next` payload exactly as graphql-ws builds it (errors last, omitted when absent). */
function serializePayload(result: ExecutionResult): Buffer {
  const { errors, ...rest } = result;
  return Buffer.from(
    JSON.stringify({ ...rest, ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}) }),
  );
}

/**
 * Swaps a member's marker message for its spliced bytes on the way out, so
 * graphql-ws keeps doing everything else (ordering, the flush it waits for
 * before pulling the next event, complete and error messages, `onNext`).
 */
class SocketSplicer {
  private readonly pending = new Map<string, Buffer>();

  constructor(socket: WebSocket) {
    const send = socket.send;
    const pending = this.pending;
    socket.send = function sendSpliced(this: WebSocket, ...args: unknown[]) {
      const [data] = args;
      if (pending.size > 0 && typeof data === 'string') {
        const bytes = pending.get(data);
        if (bytes) {
          pending.delete(data);
          const callback = args.find((arg) => typeof arg === 'function');
          // A Buffer would go out as a binary frame by default; the protocol speaks text.
          return send.call(socket, bytes, { binary: false }, callback as never);
        }
      }
      return (send as (...all: unknown[]) => void).apply(socket, args);
    } as WebSocket['send'];
  }

  expect(marker: string, bytes: Buffer): void {
    this.pending.set(marker, bytes);
  }
}

interface SharePlan {
  key: string;
  minIntervalMs: number;
}

/**
 * Groups statsChanged subscriptions over graphql-ws that are identical (same
 * document text, operation name and variables) and serves each group from a
 * single execution stream: per version the selection is executed once and
 * its `next` payload serialized once; every member's socket gets those bytes
 * with only the operation id spliced in.
 *
 * Each member keeps the semantics of a subscription of its own: the group's
 * latest payload at once, then newer ones only, at most one per
 * `minIntervalMs` and the newest one if its socket reads slowly (a
 * {@link LatestValueChannel} per member, pulled by graphql-ws once the last
 * message is flushed). The group's stream asks the publisher for every
 * version, unpaced, so a member joining a paced group still starts from the
 * newest version. The last member to leave ends the stream.
 */
export function createStatsFanOut(options: StatsFanOutOptions): StatsFanOut {
  const { log } = options;
  const groups = new Map<string, Group>();
  const splicers = new WeakMap<WebSocket, SocketSplicer>();
  let executions = 0;

  function splicerFor(socket: WebSocket): SocketSplicer {
    let splicer = splicers.get(socket);
    if (!splicer) {
      splicer = new SocketSplicer(socket);
      splicers.set(socket, splicer);
    }
    return splicer;
  }

  function plan(params: SubscribePayload, args: ExecutionArgs): SharePlan | null {
    const operation = getOperationAST(args.document, args.operationName);
    if (operation?.operation !== 'subscription') return null;
    const [field, ...others] = operation.selectionSet.selections;
    if (others.length > 0 || field?.kind !== Kind.FIELD) return null;
    if (field.name.value !== SHARED_FIELD || (field.directives?.length ?? 0) > 0) return null;
    const definition = args.schema.getSubscriptionType()?.getFields()[SHARED_FIELD];
    if (!definition) return null;
    let minIntervalMs = 0;
    try {
      const values = getArgumentValues(definition, field as FieldNode, args.variableValues);
      if (typeof values.minIntervalMs === 'number') minIntervalMs = values.minIntervalMs;
    } catch {
      return null;
    }
    // Authorization depends on the role only (scope-auth): members of different roles never
    // share an execution, so a field restricted to a role can never leak to another.
    const role = (args.contextValue as Partial<Context> | undefined)?.viewer?.role ?? 'anonymous';
    const key = JSON.stringify([
      role,
      params.operationName ?? null,
      params.query,
      params.variables ?? null,
    ]);
    return { key, minIntervalMs };
  }

  function publish(group: Group, result: ExecutionResult): void {
    const frame = { payload: serializePayload(result) };
    group.latest = frame;
    for (const member of group.members) member.channel.push(frame);
  }

  function endGroup(group: Group): void {
    group.closed = true;
    if (groups.get(group.key) === group) groups.delete(group.key);
    for (const member of [...group.members]) member.channel.close();
  }

  function closeSource(group: Group): void {
    group.source?.return?.().catch((error: unknown) => {
      log.warn({ err: error }, 'shared statsChanged stream did not end cleanly');
    });
  }

  async function run(group: Group, args: ExecutionArgs): Promise<void> {
    try {
      const result = await options.subscribe({
        ...args,
        rootValue: { ...(args.rootValue as object), [EVERY_VERSION_ROOT]: true },
      });
      if (!isAsyncIterable(result)) {
        // Refused after all (the members were accepted a moment ago): serve the errors, then end.
        publish(group, result as ExecutionResult);
        return;
      }
      const source = result[Symbol.asyncIterator]();
      group.source = source;
      if (group.closed) {
        closeSource(group);
        return;
      }
      for (let step = await source.next(); !step.done; step = await source.next()) {
        executions += 1;
        publish(group, step.value);
      }
    } catch (error) {
      // The members complete: an unexpected failure is not the client's to read.
      log.error({ err: error }, 'shared statsChanged stream failed');
    } finally {
      endGroup(group);
    }
  }

  function startGroup(key: string, args: ExecutionArgs): Group {
    const group: Group = { key, members: new Set(), latest: null, source: null, closed: false };
    groups.set(key, group);
    void run(group, args);
    return group;
  }

  function leave(group: Group, member: Member): void {
    group.members.delete(member);
    if (group.members.size > 0 || group.closed) return;
    group.closed = true;
    groups.delete(group.key);
    closeSource(group);
  }

  function join(
    group: Group,
    socket: WebSocket,
    id: string,
    minIntervalMs: number,
  ): AsyncIterableIterator<ExecutionResult> {
    const splicer = splicerFor(socket);
    const marker = JSON.stringify({ id, type: 'next', payload: SPLICE_MARKER });
    const head = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
    const member: Member = {
      channel: new LatestValueChannel<Frame>(minIntervalMs, () => leave(group, member)),
    };
    group.members.add(member);
    if (group.latest) member.channel.push(group.latest);
    return {
      async next() {
        const step = await member.channel.next();
        if (step.done) return { done: true, value: undefined };
        splicer.expect(marker, Buffer.concat([head, step.value.payload, MESSAGE_TAIL]));
        return { done: false, value: SPLICE_MARKER };
      },
      async return() {
        member.channel.close();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    async share(socket, id, params, args, result) {
      if (!isAsyncIterable(result)) return undefined;
      const shared = plan(params, args);
      if (!shared) return undefined;
      // The member's own stream proved it may subscribe with these arguments; the group serves it.
      await (result as AsyncIterableIterator<ExecutionResult>).return?.();
      const group = groups.get(shared.key) ?? startGroup(shared.key, args);
      return join(group, socket, id, shared.minIntervalMs);
    },
    metrics: {
      get groups() {
        return groups.size;
      },
      get members() {
        let total = 0;
        for (const group of groups.values()) total += group.members.size;
        return total;
      },
      get executions() {
        return executions;
      },
    },
    stop() {
      for (const group of [...groups.values()]) {
        endGroup(group);
        closeSource(group);
      }
    },
  };
}
