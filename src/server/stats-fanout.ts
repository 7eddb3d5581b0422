import {
  type ArgumentNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  getArgumentValues,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import type { Context } from '../context.js';
import type { Logger } from '../logger.js';
import type { GraphQLWsConnection } from './ws-adapter.js';

const SHARED_FIELD = 'statsChanged';
const PACING_ARGUMENT = 'minIntervalMs';
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

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
  /** Called after each push's synchronous fan-out with the members it wrote, its duration and the process CPU it took. */
  onFanOut?: (members: number, seconds: number, cpuSeconds: number) => void;
}

type Engine = { subscribe: (args: ExecutionArgs) => unknown };

export interface StatsFanOut {
  /**
   * graphql-ws' `onOperation`: for a plain `statsChanged` subscription whose
   * own stream was created (so the caller passed authorization and argument
   * checks), drops that stream and makes the operation a member of the group
   * of identical subscriptions, which writes its frames directly; graphql-ws
   * then holds only an iterator that ends when the member leaves. Anything
   * else is left alone (undefined).
   */
  share(
    connection: GraphQLWsConnection,
    id: string,
    params: SubscribePayload,
    args: ExecutionArgs,
    result: unknown,
    engine: Engine,
  ): Promise<AsyncIterableIterator<ExecutionResult> | undefined>;
  readonly metrics: StatsFanOutMetrics;
  /** Ends every group; its members complete. */
  stop(): void;
}

/**
 * One version of a group, ready to write: everything of a `next` message
 * after the operation id, and the frame headers by id length (the only part
 * of a frame that depends on the member).
 */
class Version {
  private readonly headers = new Map<number, Buffer>();

  constructor(readonly body: Buffer) {}

  header(idLength: number): Buffer {
    let header = this.headers.get(idLength);
    if (!header) {
      header = textFrameHeader(idLength + this.body.length);
      this.headers.set(idLength, header);
    }
    return header;
  }
}

/** RFC 6455 header of an unmasked, final text frame (server to client) of `length` payload bytes. */
function textFrameHeader(length: number): Buffer {
  const FIN_TEXT = 0x81;
  if (length < 126) return Buffer.from([FIN_TEXT, length]);
  if (length < 0x10000) {
    const header = Buffer.allocUnsafe(4);
    header[0] = FIN_TEXT;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
    return header;
  }
  const header = Buffer.allocUnsafe(10);
  header[0] = FIN_TEXT;
  header[1] = 127;
  header.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
  header.writeUInt32BE(length >>> 0, 6);
  return header;
}

/**
 * The `next` message graphql-ws would send, split at the id: `{"id":<id>`
 * then `,"type":"next","payload":<payload>}` (errors last, omitted when
 * absent, as graphql-ws builds it), so a version is serialized once.
 */
function serializeVersion(result: ExecutionResult): Version {
  const { errors, ...rest } = result;
  const payload = JSON.stringify({
    ...rest,
    ...(errors ? { errors: errors.map((error) => error.toJSON()) } : {}),
  });
  return new Version(Buffer.from(`,"type":"next","payload":${payload}}`));
}

interface Member {
  readonly group: Group;
  readonly outlet: Outlet;
  /** `{"id":<id>` as bytes: the member's own part of every frame. */
  readonly idHead: Buffer;
  /** Version last written (or queued) for this member. */
  written: Version | null;
  /** Paced members: earliest time of the next write, and the timer waiting for it. */
  dueAt: number;
  timer: NodeJS.Timeout | null;
  /** Ends graphql-ws' iterator for this operation. */
  finish: ((result: IteratorReturnResult<undefined>) => void) | null;
  left: boolean;
}

/**
 * One socket's write side. At most one batch of frames is in flight per
 * socket: members whose version moved meanwhile wait in `pending` and get the
 * group's newest version once the previous batch left for the kernel, so a
 * slow reader skips versions instead of queueing them.
 */
interface Outlet {
  readonly connection: GraphQLWsConnection;
  readonly pending: Set<Member>;
  members: number;
  inFlight: boolean;
  readonly flushed: (error?: Error | null) => void;
}

interface Group {
  readonly key: string;
  readonly minIntervalMs: number;
  readonly members: Set<Member>;
  latest: Version | null;
  source: AsyncIterator<ExecutionResult> | null;
  closed: boolean;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}

interface SharePlan {
  key: string;
  minIntervalMs: number;
  /** The same operation without its pacing argument: the group runs unpaced and paces members itself. */
  document: DocumentNode;
}

/**
 * Groups statsChanged subscriptions over graphql-ws that are identical (same
 * role, document text, operation name and variables) and serves each group
 * from a single execution stream: per version the selection is executed
 * once, its `next` message serialized once, and each member's socket gets a
 * frame header, the member's id and the shared bytes, corked together.
 * Nothing per member is serialized or allocated per push.
 *
 * Each member keeps the semantics of a subscription of its own: the group's
 * latest version at once, then newer ones only, at most one per
 * `minIntervalMs`, and the newest one if its socket reads slowly. The group's
 * stream runs unpaced, so a member joining a paced group still starts from the
 * newest version. The last member to leave ends the stream.
 */
export function createStatsFanOut(options: StatsFanOutOptions): StatsFanOut {
  const { log } = options;
  const groups = new Map<string, Group>();
  const outlets = new WeakMap<GraphQLWsConnection, Outlet>();
  let executions = 0;
  let members = 0;

  function outletFor(connection: GraphQLWsConnection): Outlet {
    let outlet = outlets.get(connection);
    if (!outlet) {
      const created: Outlet = {
        connection,
        pending: new Set(),
        members: 0,
        inFlight: false,
        flushed: () => {
          created.inFlight = false;
          if (created.pending.size > 0) flush(created);
        },
      };
      outlet = created;
      outlets.set(connection, outlet);
    }
    return outlet;
  }

  /** Writes every pending member's newest version to the outlet's socket, as one corked batch. */
  function flush(outlet: Outlet): number {
    if (outlet.inFlight || outlet.pending.size === 0) return 0;
    const { connection } = outlet;
    if (!connection.withinBacklog()) {
      outlet.pending.clear();
      return 0;
    }
    const { stream } = connection;
    const now = Date.now();
    let written = 0;
    // The last body is written after the loop, with the callback that reopens the outlet.
    let heldBody: Buffer | null = null;
    stream.cork();
    for (const member of outlet.pending) {
      const version = member.group.latest;
      if (!version || version === member.written) continue;
      if (member.group.minIntervalMs > 0) {
        if (now < member.dueAt) {
          member.timer ??= setTimeout(() => {
            member.timer = null;
            if (member.left) return;
            outlet.pending.add(member);
            flush(outlet);
          }, member.dueAt - now);
          continue;
        }
        member.dueAt = now + member.group.minIntervalMs;
      }
      if (heldBody) stream.write(heldBody);
      stream.write(version.header(member.idHead.length));
      stream.write(member.idHead);
      heldBody = version.body;
      member.written = version;
      written += 1;
    }
    outlet.pending.clear();
    if (heldBody) {
      outlet.inFlight = true;
      stream.write(heldBody, outlet.flushed);
    }
    stream.uncork();
    return written;
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
      if (typeof values[PACING_ARGUMENT] === 'number') minIntervalMs = values[PACING_ARGUMENT];
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
    const unpacedField: FieldNode = {
      ...field,
      arguments: (field.arguments ?? []).filter(
        (argument: ArgumentNode) => argument.name.value !== PACING_ARGUMENT,
      ),
    };
    const unpacedOperation: OperationDefinitionNode = {
      ...operation,
      selectionSet: { ...operation.selectionSet, selections: [unpacedField] },
    };
    const document: DocumentNode = {
      ...args.document,
      definitions: args.document.definitions.map((definitionNode) =>
        definitionNode === operation ? unpacedOperation : definitionNode,
      ),
    };
    return { key, minIntervalMs, document };
  }

  function publish(group: Group, result: ExecutionResult): void {
    const version = serializeVersion(result);
    group.latest = version;
    const started = process.hrtime.bigint();
    const cpuStarted = process.cpuUsage();
    const touched = new Set<Outlet>();
    for (const member of group.members) {
      member.outlet.pending.add(member);
      touched.add(member.outlet);
    }
    let written = 0;
    for (const outlet of touched) written += flush(outlet);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuStarted);
    options.onFanOut?.(written, seconds, (cpu.user + cpu.system) / 1e6);
  }

  function removeMember(member: Member): void {
    if (member.left) return;
    member.left = true;
    members -= 1;
    if (member.timer) clearTimeout(member.timer);
    member.outlet.pending.delete(member);
    member.outlet.members -= 1;
    member.group.members.delete(member);
  }

  function closeSource(group: Group): void {
    group.source?.return?.().catch((error: unknown) => {
      log.warn({ err: error }, 'shared statsChanged stream did not end cleanly');
    });
  }

  function endGroup(group: Group): void {
    group.closed = true;
    if (groups.get(group.key) === group) groups.delete(group.key);
    for (const member of [...group.members]) {
      // Frames already queued go out first; graphql-ws then sends `complete`.
      removeMember(member);
      member.finish?.(DONE);
    }
  }

  async function run(group: Group, args: ExecutionArgs, engine: Engine): Promise<void> {
    try {
      const result = await engine.subscribe(args);
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

  function leave(member: Member): void {
    const { group } = member;
    removeMember(member);
    if (group.members.size > 0 || group.closed) return;
    group.closed = true;
    groups.delete(group.key);
    closeSource(group);
  }

  function join(group: Group, connection: GraphQLWsConnection, id: string): Member {
    const outlet = outletFor(connection);
    const member: Member = {
      group,
      outlet,
      idHead: Buffer.from(`{"id":${JSON.stringify(id)}`),
      written: null,
      dueAt: 0,
      timer: null,
      finish: null,
      left: false,
    };
    group.members.add(member);
    outlet.members += 1;
    members += 1;
    if (group.latest) {
      outlet.pending.add(member);
      flush(outlet);
    }
    return member;
  }

  /** What graphql-ws iterates for a member: nothing, until the member leaves or its group ends. */
  function operationFor(member: Member): AsyncIterableIterator<ExecutionResult> {
    return {
      next: () =>
        member.left
          ? Promise.resolve(DONE)
          : new Promise((resolve) => {
              member.finish = resolve;
            }),
      return: () => {
        leave(member);
        member.finish?.(DONE);
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    async share(connection, id, params, args, result, engine) {
      if (!isAsyncIterable(result)) return undefined;
      const shared = plan(params, args);
      if (!shared) return undefined;
      // The member's own stream proved it may subscribe with these arguments; the group serves it.
      await (result as AsyncIterableIterator<ExecutionResult>).return?.();
      let group = groups.get(shared.key);
      if (!group) {
        const created: Group = {
          key: shared.key,
          minIntervalMs: shared.minIntervalMs,
          members: new Set(),
          latest: null,
          source: null,
          closed: false,
        };
        groups.set(shared.key, created);
        void run(created, { ...args, document: shared.document }, engine);
        group = created;
      }
      return operationFor(join(group, connection, id));
    },
    metrics: {
      get groups() {
        return groups.size;
      },
      get members() {
        return members;
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
