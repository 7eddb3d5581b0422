/**
 * The push path at scale alone (bench/scenarios/push-scale.ts), on a database
 * that already holds data, e.g. the seeded full-size one:
 *
 *   npx tsx bench/push-scale.ts --database postgres://postgres@127.0.0.1:5432/bench_1m \
 *     [--subscribers 1000,10000] [--worker-subscribers 1000] [--writes 20] [--gap-ms 200] [--processes 4]
 *
 * Writes flip AVAILABLE ↔ UNAVAILABLE on up to 200 consultants and are put
 * back at the end. Prints the rows as JSON.
 */
import { parseArgs } from 'node:util';
import { measurePushScale } from './scenarios/push-scale.js';

const { values } = parseArgs({
  options: {
    database: { type: 'string' },
    subscribers: { type: 'string', default: '1000,10000' },
    'worker-subscribers': { type: 'string', default: '1000' },
    writes: { type: 'string', default: '20' },
    'gap-ms': { type: 'string', default: '200' },
    processes: { type: 'string', default: '4' },
  },
});
if (
  !values.database ||
  !/^postgres(ql)?:\/\/[^/]*(127\.0\.0\.1|localhost)[:/]/.test(values.database)
) {
  console.error('--database: a postgres:// URL on 127.0.0.1 is required');
  process.exit(2);
}
const rows = await measurePushScale(
  values.database,
  {
    subscriberCounts: values.subscribers.split(',').map(Number),
    workerSubscribers: values['worker-subscribers'].split(',').map(Number),
    writes: Number(values.writes),
    gapMs: Number(values['gap-ms']),
    clientProcesses: Number(values.processes),
  },
  (message) => process.stderr.write(`[push-scale] ${message}\n`),
);
console.log(JSON.stringify(rows, null, 2));
