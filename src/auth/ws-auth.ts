import type { ServerOptions } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Authentication, Authenticator } from './authenticator.js';

/** graphql-ws closes a socket refused by `onConnect` with this code ("Forbidden"). */
export const WS_FORBIDDEN = 4403;

// setTimeout fires at once past 2^31 - 1 ms (about 24.8 days).
const MAX_TIMER_MS = 2_147_483_647;

/** Where `onConnect` leaves the outcome for the context factory (`initial.extra`). */
export interface AuthenticatedExtra {
  authentication?: Authentication;
}

/**
 * The graphql-ws `onConnect` of the API: the credential comes in
 * `connectionParams` (`{ authorization: "Bearer …" }` or `{ token: "…" }`)
 * and is checked once, when the socket opens. An invalid credential, or none
 * while anonymous reads are off, is refused (graphql-ws closes 4403). A
 * socket authenticated by a token that expires is closed with 4403 then.
 */
export function createWebSocketOnConnect(options: {
  authenticator: Authenticator;
  allowAnonymousReads: boolean;
}): NonNullable<ServerOptions['onConnect']> {
  return async (ctx) => {
    const params = ctx.connectionParams ?? {};
    const header =
      typeof params.authorization === 'string'
        ? params.authorization
        : typeof params.token === 'string'
          ? `Bearer ${params.token}`
          : undefined;
    const authentication = await options.authenticator.authenticate(header);
    if (authentication.kind === 'invalid') return false;
    if (authentication.kind === 'anonymous' && !options.allowAnonymousReads) return false;
    (ctx.extra as AuthenticatedExtra).authentication = authentication;
    const expiresAt =
      authentication.kind === 'authenticated' ? authentication.viewer.expiresAt : undefined;
    const socket = (ctx.extra as { socket?: WebSocket }).socket;
    if (expiresAt && socket) closeAtExpiry(socket, expiresAt);
    return true;
  };
}

function closeAtExpiry(socket: WebSocket, expiresAt: Date): void {
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left <= 0) {
      socket.close(WS_FORBIDDEN, 'Forbidden');
      return;
    }
    timer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  check();
  socket.once('close', () => clearTimeout(timer));
}
