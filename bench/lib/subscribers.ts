import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type WorkerRequest =
  | { type: 'connect'; url: string; count: number; query: string; operationId?: string }
  | { type: 'await'; after: string; timeoutMs: number }
  | { type: 'counts' }
  | { type: 'close' };

export type WorkerReply =
  | { type: 'connected'; newest: string }
  | { type: 'arrived'; arrivals: number[]; missing: number; newest: string }
  | { type: 'counts'; received: number; errors: number; open: number }
  | { type: 'closed' }
  | { type: 'failed'; message: string };

/** What a dashboard shows: the README's subscription, as a front end would send it. */
export const DASHBOARD_SUBSCRIPTION = /* GraphQL */ `
  subscription Dashboard {
    statsChanged {
      version
      computedAt
      consultants { total available onMission utilizationRate }
      missions { active ended total averageDailyRate }
      practices { name consultants averageDailyRate }
      topSkills(first: 5) { name consultants }
    }
  }
`;

const WORKER_ENTRY = fileURLToPath(new URL('../subscriber-worker.ts', import.meta.url));

class WorkerHandle {
  private readonly waiting: ((reply: WorkerReply) => void)[] = [];

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: WorkerReply) => this.waiting.shift()?.(reply));
    child.on('exit', () => {
      for (const resolve of this.waiting.splice(0)) {
        resolve({ type: 'failed', message: 'subscriber process exited' });
      }
    });
  }

  /** One request at a time per worker: replies come back in order. */
  request<T extends WorkerReply['type']>(
    message: WorkerRequest,
    expected: T,
  ): Promise<Extract<WorkerReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push((reply) => {
        if (reply.type === expected) resolve(reply as Extract<WorkerReply, { type: T }>);
        else
          reject(new Error(reply.type === 'failed' ? reply.message : `unexpected ${reply.type}`));
      });
      this.child.send(message);
    });
  }
}

export interface SubscriberFleet {
  readonly total: number;
  /** The newest version every subscriber has seen so far. */
  newest: string;
  /**
   * Waits until every subscriber received a version newer than `after` and
   * returns when each did (wall-clock ms); `missing` counts those that did
   * not within `timeoutMs`.
   */
  awaitNewerThan(
    after: string,
    timeoutMs: number,
  ): Promise<{ arrivals: number[]; missing: number; newest: string }>;
  counts(): Promise<{ received: number; errors: number; open: number }>;
  close(): Promise<void>;
}

/**
 * Opens `total` statsChanged subscriptions, one graphql-ws socket each,
 * spread over `processes` client processes, and resolves once every one
 * has received its first snapshot.
 */
export async function startSubscribers(options: {
  wsUrl: string;
  total: number;
  processes: number;
  query?: string;
  /** One operation id for every client (default: graphql-ws' random ids), so a server may send all of them one buffer. */
  operationId?: string;
}): Promise<SubscriberFleet> {
  const processes = Math.max(1, Math.min(options.processes, options.total));
  const workers = Array.from({ length: processes }, () => {
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new WorkerHandle(child);
  });
  const killOnExit = () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const close = async () => {
    process.removeListener('exit', killOnExit);
    await Promise.all(
      workers.map(async (worker) => {
        if (worker.child.connected) {
          await worker.request({ type: 'close' }, 'closed').catch(() => {});
        }
        if (worker.child.exitCode === null) {
          const exited = new Promise((resolve) => worker.child.once('exit', resolve));
          worker.child.kill('SIGTERM');
          await exited;
        }
      }),
    );
  };
  try {
    const connected = await Promise.all(
      workers.map((worker, index) => {
        const count =
          Math.floor(options.total / processes) + (index < options.total % processes ? 1 : 0);
        return worker.request(
          {
            type: 'connect',
            url: options.wsUrl,
            count,
            query: options.query ?? DASHBOARD_SUBSCRIPTION,
            operationId: options.operationId,
          },
          'connected',
        );
      }),
    );
    const fleet: SubscriberFleet = {
      total: options.total,
      newest: connected
        .map((c) => BigInt(c.newest))
        .reduce((a, b) => (a > b ? a : b))
        .toString(),
      async awaitNewerThan(after, timeoutMs) {
        const replies = await Promise.all(
          workers.map((worker) => worker.request({ type: 'await', after, timeoutMs }, 'arrived')),
        );
        const newest = replies
          .map((r) => BigInt(r.newest))
          .reduce((a, b) => (a > b ? a : b))
          .toString();
        fleet.newest = newest;
        return {
          arrivals: replies.flatMap((r) => r.arrivals),
          missing: replies.reduce((sum, r) => sum + r.missing, 0),
          newest,
        };
      },
      async counts() {
        const replies = await Promise.all(
          workers.map((worker) => worker.request({ type: 'counts' }, 'counts')),
        );
        return {
          received: replies.reduce((sum, r) => sum + r.received, 0),
          errors: replies.reduce((sum, r) => sum + r.errors, 0),
          open: replies.reduce((sum, r) => sum + r.open, 0),
        };
      },
      close,
    };
    return fleet;
  } catch (error) {
    await close();
    throw error;
  }
}
