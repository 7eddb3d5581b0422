import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Config, Secret } from '../config.js';

const DEV_SECRET_FILE = 'dev-jwt-secret';

/**
 * Where the embedded demo keeps the HS256 secret it generates when no
 * JWT_SECRET is set: next to the embedded data folder (`.data/` by default),
 * so the server and `npm run token` agree without any setup.
 */
export function devSecretPath(embeddedDataDir: string): string {
  return path.join(path.dirname(path.resolve(embeddedDataDir)), DEV_SECRET_FILE);
}

/**
 * The secret tokens are signed and verified with: JWT_SECRET when set;
 * for the embedded demo, a random one created once (mode 0600) and reused;
 * otherwise none (only API keys and JWKS tokens are accepted).
 */
export async function resolveJwtSecret(config: Config): Promise<Secret | undefined> {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  if (config.database.url) return undefined;
  const file = devSecretPath(config.database.embedded.dataDir);
  try {
    return new Secret((await readFile(file, 'utf8')).trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    // `wx`: when two processes race, the second one reads the first one's secret.
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return new Secret(secret);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return new Secret((await readFile(file, 'utf8')).trim());
  }
}
