import { mintToken } from '../../src/auth/tokens.js';
import type { Role } from '../../src/auth/viewer.js';
import { Secret } from '../../src/config.js';

/** HS256 secret of the auth tests' servers (at least 32 characters, as config requires). */
export const TEST_JWT_SECRET = 'test-secret-for-the-auth-suites-0123456789';
export const TEST_ADMIN_KEY = 'admin-key-0123456789abcdef';
export const TEST_VIEWER_KEY = 'viewer-key-0123456789abcdef';

/** Config of a server that checks tokens: no anonymous reads, one secret, two API keys. */
export const AUTH_OVERRIDES: Record<string, string> = {
  JWT_SECRET: TEST_JWT_SECRET,
  API_KEYS: `ops-script:admin:${TEST_ADMIN_KEY},dashboard:viewer:${TEST_VIEWER_KEY}`,
  ALLOW_ANONYMOUS_READS: 'false',
};

export function tokenFor(
  role: Role,
  actor = `test-${role}`,
  expiresIn: string | number = '1h',
): Promise<string> {
  return mintToken({ secret: new Secret(TEST_JWT_SECRET), actor, role, expiresIn });
}
