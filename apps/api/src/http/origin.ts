import type { RequestOrigin } from '@hookhub/auth';
import type { FastifyRequest } from 'fastify';

/** Where a request came from, for the audit log. */
export function originOf(req: FastifyRequest): RequestOrigin {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, userAgent: typeof ua === 'string' ? ua : null, requestId: String(req.id) };
}
