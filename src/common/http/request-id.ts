import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { containsSecretShaped } from '../secrets/secret-shape';

/** Where the request id is kept on the raw request, for the HTTP logger. */
export const REQUEST_ID = Symbol.for('agent-credentials.requestId');

const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id: the caller's `x-request-id` when it is a sane token (so ids
 * can be followed across services), a new UUID otherwise. One shaped like a
 * secret is not kept: the id is stored with every audit event and revocation.
 */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && ACCEPTABLE.test(given) && !containsSecretShaped(given) ? given : randomUUID();
  (req as IncomingMessage & { [REQUEST_ID]?: string })[REQUEST_ID] = id;
  return id;
}
