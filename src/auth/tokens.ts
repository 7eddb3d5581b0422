import { SignJWT } from 'jose';
import type { Secret } from '../config.js';
import type { Role } from './viewer.js';

export interface MintOptions {
  secret: Secret;
  actor: string;
  role: Role;
  /** A jose time span (`1h`, `30m`, `7d`) or seconds from now. */
  expiresIn: string | number;
}

/** Signs an HS256 token the authenticator accepts (for local use and tests). */
export function mintToken({ secret, actor, role, expiresIn }: MintOptions): Promise<string> {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(actor)
    .setIssuedAt()
    .setExpirationTime(
      typeof expiresIn === 'number' ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn,
    )
    .sign(new TextEncoder().encode(secret.reveal()));
}
