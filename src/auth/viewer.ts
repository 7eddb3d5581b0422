export const ROLES = ['viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the subject of a verified token, or the name of an API key. */
export interface Viewer {
  /** Recorded in the audit trail. */
  actor: string;
  role: Role;
  /** When the credential stops being valid; API keys never expire. */
  expiresAt?: Date;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
