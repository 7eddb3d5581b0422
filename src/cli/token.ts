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
  if (!/^\d+\s*(s|sec|m|min|h|hr|d|day|w|week)s?$/i.test(values.expires)) {
    throw new ConfigError(
      `--expires: must be a time span such as 30m, 1h or 7d (got ${JSON.stringify(values.expires)})`,
    );
  }
  const config = loadConfig();
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
    expiresIn: values.expires,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  const known =
    error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`${known ? (error as Error).message : String(error)}\n`);
  process.exit(1);
});
