import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Any one of these marks a request as sent by code that could set headers, not by a form or a link. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'x-graphql-yoga-csrf', 'apollo-require-preflight'];

/** What a browser may send cross-site without a CORS preflight. */
const SIMPLE_CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
];

function isSimpleRequest(request: Request): boolean {
  const contentType = request.headers.get('content-type');
  if (contentType === null) return true;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return SIMPLE_CONTENT_TYPES.includes(mediaType);
}

/**
 * CSRF prevention in the way Apollo Server and yoga's plugin do it: a request
 * a browser would send cross-site without a preflight (a GET, a form post,
 * `text/plain`) must carry one of {@link CSRF_HEADERS}. Such a request could
 * not read the answer, but it could still make the server act. JSON POSTs
 * (every GraphQL client) are preflighted by browsers, so they pass as they are.
 */
export function useCSRFPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      if (!isSimpleRequest(request)) return;
      if (CSRF_HEADERS.some((header) => request.headers.get(header))) return;
      throw createGraphQLError(
        `This request must carry a "${CSRF_HEADERS[0]}" header (any value) or be sent as application/json, to prevent cross-site request forgery.`,
        { extensions: { code: 'BAD_REQUEST', http: { status: 403 } } },
      );
    },
  };
}
