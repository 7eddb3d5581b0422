import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import type { ApiKeyConfig, Secret } from '../config.js';
import { bearerCredential, credentialDigest, sameDigest } from './bearer.js';
import { isRole, type Viewer } from './viewer.js';

/** What a credential turned out to be. */
export type Authentication =
  | { kind: 'anonymous' }
  | { kind: 'authenticated'; viewer: Viewer }
  /** A credential was sent but is wrong, expired or unverifiable: never downgraded to anonymous. */
  | { kind: 'invalid'; reason: string };

export interface Authenticator {
  /** Checks an `Authorization` header value (`Bearer <jwt or API key>`); absent means anonymous. */
  authenticate(authorization: string | null | undefined): Promise<Authentication>;
}

export interface AuthenticatorOptions {
  jwtSecret?: Secret;
  jwksUrl?: string;
  apiKeys: readonly ApiKeyConfig[];
  /** Longest accepted lifetime of a JWT, in seconds (JWT_MAX_LIFETIME_SECONDS). */
  jwtMaxLifetimeSeconds: number;
}

/** Claims of the tokens this API accepts: `sub` is the actor, `role` is `viewer` or `admin`. */
export interface TokenClaims extends JWTPayload {
  role?: unknown;
}

/**
 * Verifies bearer credentials: static API keys (compared in constant time),
 * HS256 JWTs signed with the configured secret, and JWTs of any asymmetric
 * algorithm whose key the JWKS URL publishes (jose caches and refreshes the
 * key set). Unknown or unconfigured kinds are invalid, never anonymous;
 * so is a JWT without `exp` or living longer than `jwtMaxLifetimeSeconds`.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const hmacKey = options.jwtSecret
    ? new TextEncoder().encode(options.jwtSecret.reveal())
    : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  const apiKeys = options.apiKeys.map((entry) => ({
    digest: credentialDigest(entry.key.reveal()),
    viewer: { actor: entry.name, role: entry.role } satisfies Viewer,
  }));

  function matchApiKey(credential: string): Viewer | undefined {
    const digest = credentialDigest(credential);
    let found: Viewer | undefined;
    // No early exit: every key is compared, whichever matches.
    for (const entry of apiKeys) {
      if (sameDigest(entry.digest, digest)) found = entry.viewer;
    }
    return found;
  }

  async function verifyJwt(token: string): Promise<Authentication> {
    let algorithm: string | undefined;
    try {
      algorithm = decodeProtectedHeader(token).alg;
    } catch {
      return { kind: 'invalid', reason: 'malformed token' };
    }
    let payload: TokenClaims;
    try {
      if (algorithm === 'HS256' && hmacKey) {
        ({ payload } = await jwtVerify<TokenClaims>(token, hmacKey, { algorithms: ['HS256'] }));
      } else if (algorithm !== 'HS256' && algorithm !== 'none' && jwks) {
        ({ payload } = await jwtVerify<TokenClaims>(token, jwks));
      } else {
        return {
          kind: 'invalid',
          reason: `no key configured for ${algorithm ?? 'unsigned'} tokens`,
        };
      }
    } catch (error) {
      return {
        kind: 'invalid',
        reason: (error as { code?: string }).code ?? 'verification failed',
      };
    }
    // A token without exp would be good forever: one leak, and no way to end it but a new secret.
    if (payload.exp === undefined) return { kind: 'invalid', reason: 'token has no expiry (exp)' };
    const lifetime = payload.exp - (payload.iat ?? Math.floor(Date.now() / 1000));
    if (lifetime > options.jwtMaxLifetimeSeconds) {
      return {
        kind: 'invalid',
        reason: `token lifetime exceeds ${options.jwtMaxLifetimeSeconds} s`,
      };
    }
    if (!payload.sub) return { kind: 'invalid', reason: 'token has no subject' };
    if (!isRole(payload.role)) return { kind: 'invalid', reason: 'token has no valid role' };
    return {
      kind: 'authenticated',
      viewer: {
        actor: payload.sub,
        role: payload.role,
        expiresAt: new Date(payload.exp * 1000),
      },
    };
  }

  return {
    async authenticate(authorization) {
      if (authorization == null || authorization.trim() === '') return { kind: 'anonymous' };
      const credential = bearerCredential(authorization);
      if (!credential) return { kind: 'invalid', reason: 'expected "Bearer <token>"' };
      const viewer = matchApiKey(credential);
      if (viewer) return { kind: 'authenticated', viewer };
      if (credential.split('.').length === 3) return verifyJwt(credential);
      return { kind: 'invalid', reason: 'unknown credential' };
    },
  };
}
