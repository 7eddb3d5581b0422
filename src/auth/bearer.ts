import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a credential: equal-length buffers, which timingSafeEqual requires. */
export const credentialDigest = (value: string): Buffer =>
  createHash('sha256').update(value).digest();

/** Compares two credential digests in constant time. */
export const sameDigest = (a: Buffer, b: Buffer): boolean => timingSafeEqual(a, b);

/** The credential of an `Authorization: Bearer <credential>` header; undefined when malformed. */
export function bearerCredential(authorization: string): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
}
