import { parseArgs } from 'node:util';
import { resolveJwtSecret } from '../auth/dev-secret.js';
import { mintToken } from '../auth/tokens.js';
import { isRole } from '../auth/viewer.js';
import { ConfigError, loadConfig } from '../config.js';

/**
 * Prints a bearer token for local use:
 * `npm run token -- --role admin [--actor name] [--expires 1h]`.
 * It signs with JWT_SECRET, or with the embedded demo's generated secret.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string', default: 'viewer' },
      actor: { type: 'string' },
      expires: { type: 'string', default: '1h' },
    },
    strict: true,
  });
  if (!isRole(values.role)) {
    throw new ConfigError(`--role: must be viewer or admin (got ${JSON.stringify(values.role)})`);
  }
  const seconds = timeSpanSeconds(values.expires);
  if (seconds === undefined) {
    throw new ConfigError(
      `--expires: must be a time span such as 30m, 1h or 8h (got ${JSON.stringify(values.expires)})`,
    );
  }
  const config = loadConfig();
  // The server would refuse the token: say so now rather than hand out one that fails.
  if (seconds > config.auth.jwtMaxLifetimeSeconds) {
    throw new ConfigError(
      `--expires: at most ${config.auth.jwtMaxLifetimeSeconds} s (JWT_MAX_LIFETIME_SECONDS); got ${values.expires}`,
    );
  }
  const secret = await resolveJwtSecret(config);
  if (!secret) {
    throw new ConfigError(
      'JWT_SECRET: not set; with DATABASE_URL tokens are signed with JWT_SECRET (or use API_KEYS)',
    );
  }
  const token = await mintToken({
    secret,
    actor: values.actor ?? `local-${values.role}`,
    role: values.role,
    expiresIn: seconds,
  });
  process.stdout.write(`${token}\n`);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/** `30m`, `1h`, `7d`, `2 weeks`… in seconds; undefined when it is not such a span. */
function timeSpanSeconds(span: string): number | undefined {
  const match = /^(\d+)\s*(s|sec|m|min|h|hr|d|day|w|week)s?$/i.exec(span);
  if (!match?.[1] || !match[2]) return undefined;
  return Number(match[1]) * (UNIT_SECONDS[match[2].charAt(0).toLowerCase()] ?? Number.NaN);
}

main().catch((error: unknown) => {
  const known =
    error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`${known ? (error as Error).message : String(error)}\n`);
  process.exit(1);
});
