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

/** Resolves `request.user` from `Authorization: Bearer …` or the session cookie. */
export function registerAuthentication(app: FastifyInstance, db: Executor): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request) ?? readCookie(request.headers.cookie, SESSION_COOKIE);
    if (token) request.user = (await authenticateToken(db, token)) ?? null;
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
