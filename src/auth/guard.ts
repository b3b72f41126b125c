import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Executor } from '../db/store.js';
import { AppError } from '../errors.js';
import { type AuthUser, authenticateToken, SESSION_COOKIE } from './sessions.js';
import type { Role } from './users.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook when the request carries a valid session cookie or API token. */
    user: AuthUser | null;
  }
}

const SIGN_IN_PATH = '/api/auth/login';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Sec-Fetch-Site values of a request the user made on Parley's own pages, or typed in. */
const OWN_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * Resolves `request.user` from `Authorization: Bearer …` or the session cookie, and refuses
 * cross-site request forgery first: a browser sends the cookie with requests that other
 * pages of the same site (another port of the host) make, so a state-changing request or a
 * WebSocket upgrade carrying it, and every sign-in, must come from Parley's own origin.
 * A Bearer token is never sent by a browser on its own, so those requests are not checked.
 */
export function registerAuthentication(
  app: FastifyInstance,
  deps: { db: Executor; publicUrl: string },
): void {
  const ownOrigin = new URL(deps.publicUrl).origin;
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    const credential = credentialOf(request);
    if ((credential?.kind === 'cookie' && forgeable(request)) || isSignIn(request)) {
      refuseForeignOrigin(request, ownOrigin);
    }
    if (credential) {
      const kind = credential.kind === 'bearer' ? 'api-token' : 'session';
      request.user = (await authenticateToken(deps.db, credential.token, kind)) ?? null;
    }
  });
}

/** The credential a request carries: a Bearer token, else the session cookie. */
export function credentialOf(
  request: FastifyRequest,
): { kind: 'bearer' | 'cookie'; token: string } | undefined {
  const header = request.headers.authorization;
  const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (bearer) return { kind: 'bearer', token: bearer };
  const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
  return cookie ? { kind: 'cookie', token: cookie } : undefined;
}

/** Requests a page of another origin could have the browser send with the user's cookie. */
function forgeable(request: FastifyRequest): boolean {
  return (
    !SAFE_METHODS.has(request.method) || request.headers.upgrade?.toLowerCase() === 'websocket'
  );
}

/** The route matched, not the raw URL: `/api/auth/log%69n` reaches the same handler. */
function isSignIn(request: FastifyRequest): boolean {
  return request.method === 'POST' && request.routeOptions.url === SIGN_IN_PATH;
}

/**
 * 403 when the browser says the request comes from another origin. A request with neither
 * Origin nor Sec-Fetch-Site is not from a browser (every current browser sends one of them
 * on these requests), so it passes.
 */
function refuseForeignOrigin(request: FastifyRequest, ownOrigin: string): void {
  const origin = request.headers.origin;
  const fetchSite = request.headers['sec-fetch-site'];
  const foreignOrigin = origin !== undefined && originOf(origin) !== ownOrigin;
  const foreignSite = fetchSite !== undefined && !OWN_FETCH_SITES.has(fetchSite.toLowerCase());
  if (foreignOrigin || foreignSite) {
    request.log.warn(
      { origin, secFetchSite: fetchSite, expectedOrigin: ownOrigin },
      'cross-origin request refused',
    );
    throw new AppError('forbidden', `requests signed in by cookie must come from ${ownOrigin}`);
  }
}

/** The origin an Origin header names, in URL's spelling; '' for `null` or garbage. */
function originOf(header: string): string {
  try {
    return new URL(header).origin;
  } catch {
    return '';
  }
}

/**
 * Registers a group of routes for signed-in users only. Its one onRequest hook answers 401
 * before the body is parsed or validated, so an anonymous caller learns nothing of what a
 * route expects.
 */
export function registerSignedInRoutes(
  parent: FastifyInstance,
  routes: (app: FastifyInstance) => void,
): void {
  parent.register(async (group) => {
    group.addHook('onRequest', async (request) => {
      currentUser(request);
    });
    routes(group);
  });
}

/**
 * A route's onRequest admitting the roles only, inside registerSignedInRoutes: a caller
 * without the role gets 403 whatever they send.
 */
export function requireRole(...roles: Role[]) {
  return async (request: FastifyRequest) => {
    if (!roles.includes(currentUser(request).role)) {
      throw new AppError('forbidden', `this needs the role ${roles.join(' or ')}`);
    }
  };
}

/** The signed-in user; 401 when there is none. */
export function currentUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw new AppError('unauthorized', 'sign in first');
  return request.user;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      // A malformed escape is no session, like any other unknown value.
      return undefined;
    }
  }
  return undefined;
}
