import { fileURLToPath } from 'node:url';

/**
 * The checkout's root folder, for files read at run time (migrations, the
 * dashboard's sources). Resolved from this module, which sits one level below
 * the root both as a source (src/) and compiled into dist/.
 */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
