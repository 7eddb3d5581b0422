import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Any one of these marks a request as sent by code that could set headers, not by a form. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'x-graphql-yoga-csrf', 'apollo-require-preflight'];

/** What a browser may post cross-site without a CORS preflight. */
const SIMPLE_CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
];

function isSimplePost(request: Request): boolean {
  if (request.method !== 'POST') return false;
  const contentType = request.headers.get('content-type');
  if (contentType === null) return true;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return SIMPLE_CONTENT_TYPES.includes(mediaType);
}

/**
 * CSRF prevention for the requests that could make the server act: a POST a
 * browser sends cross-site without a preflight (a form post, `text/plain`)
 * must carry one of {@link CSRF_HEADERS}. JSON POSTs (every GraphQL client)
 * are preflighted by browsers, so they pass as they are.
 *
 * GET passes as it is, unlike Apollo Server's and yoga's plugins, because
 * here it cannot be forged into anything: a GET runs queries only (yoga
 * answers a mutation over GET with 405), and credentials travel only in the
 * `Authorization` header, which a browser never adds to a cross-site request,
 * so a forged GET is an anonymous read that anyone may send directly. That
 * is what lets `@urql/core` and other clients that send queries as GET work
 * with their default options.
 */
export function useCSRFPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      if (!isSimplePost(request)) return;
      if (CSRF_HEADERS.some((header) => request.headers.get(header))) return;
      throw createGraphQLError(
        `This request must carry a "${CSRF_HEADERS[0]}" header (any value) or be sent as application/json, to prevent cross-site request forgery.`,
        { extensions: { code: 'BAD_REQUEST', http: { status: 403 } } },
      );
    },
  };
}
