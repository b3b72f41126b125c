import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Executor } from '../db/store.js';
import { AppError } from '../errors.js';
import { type AuthUser, authenticateToken } from './sessions.js';
import type { Role } from './users.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook when the request carries a valid session cookie or API token. */
    user: AuthUser | null;
  }
}

export const SESSION_COOKIE = 'parley_session';

/** Resolves `request.user` from `Authorization: Bearer <API token>` or the session cookie. */
export function registerAuthentication(app: FastifyInstance, db: Executor): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    const bearer = bearerToken(request);
    const cookie = bearer ? undefined : readCookie(request.headers.cookie, SESSION_COOKIE);
    if (bearer) request.user = (await authenticateToken(db, bearer, 'api-token')) ?? null;
    else if (cookie) request.user = (await authenticateToken(db, cookie, 'session')) ?? null;
  });
}

/** A preHandler admitting signed-in users with one of the roles (any role when none given). */
export function requireUser(...roles: Role[]) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!request.user) throw new AppError('unauthorized', 'sign in first');
    if (roles.length > 0 && !roles.includes(request.user.role)) {
      throw new AppError('forbidden', `this needs the role ${roles.join(' or ')}`);
    }
  };
}

/** The signed-in user; call only behind requireUser. */
export function currentUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw new AppError('unauthorized', 'sign in first');
  return request.user;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() || undefined : undefined;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}
