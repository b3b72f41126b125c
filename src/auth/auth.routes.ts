import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idParams, noContent } from '../api-schemas.js';
import { actorAs, actorOf, recordAudit } from '../audit/audit-log.js';
import type { Db } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { type ApiToken, createApiToken, listApiTokens, revokeApiToken } from './api-tokens.js';
import { currentUser, registerSignedInRoutes } from './guard.js';
import { verifyPassword } from './passwords.js';
import {
  countLiveSessions,
  createSession,
  endSession,
  SESSION_COOKIE,
  sessionCookie,
} from './sessions.js';
import {
  clearFailures,
  FAILURE_WINDOW_MS,
  MAX_FAILURES,
  reserveAttempt,
  signInKey,
} from './sign-in-limit.js';
import { findUserForSignIn, ROLES } from './users.js';

const apiTokenView = z
  .object({
    id: z.string(),
    userId: z.string(),
    name: z.string().nullable(),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime().nullable().describe('Null: never expires'),
    lastUsedAt: z.iso.datetime().nullable().describe('To the minute; null: never used'),
  })
  .meta({ id: 'ApiToken' });

const userView = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
  })
  .meta({ id: 'User' });

export interface AuthDeps {
  db: Db;
  secureCookies: boolean;
  /** False (PASSWORD_SIGN_IN=false): only single sign-on signs people in. */
  passwordSignIn: boolean;
  /**
   * The user signed out of their last browser session: their working day is over. Routing
   * sets them offline (given by the composition: routing sits above auth).
   */
  lastSessionEnded: (userId: string) => Promise<void>;
}

export function registerAuthRoutes(parent: FastifyInstance, deps: AuthDeps): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in; sets the session cookie',
        description:
          `After ${MAX_FAILURES} failed sign-ins for one email from one address within ` +
          `${FAILURE_WINDOW_MS / 60_000} minutes, answers 429 with Retry-After (seconds) ` +
          'without checking the password. Answers 403 when password sign-in is turned off ' +
          '(PASSWORD_SIGN_IN=false).',
        body: z.object({ email: z.string().min(1), password: z.string().min(1) }),
        response: { 200: userView },
      },
      // Before the body is read: whatever is sent, the answer is the same.
      onRequest: async () => {
        if (!deps.passwordSignIn) {
          throw new AppError('forbidden', 'password sign-in is turned off here; sign in with SSO');
        }
      },
    },
    async (request, reply) => {
      const key = signInKey(request.ip, request.body.email);
      // Who failed is not known: the entry names the email given (userId null).
      const failed = (reason: string) =>
        recordAudit(deps.db, {
          actor: actorAs(request, { userId: null, label: signInLabel(request.body.email) }),
          action: 'auth.sign-in-failed',
          detail: { reason },
        });
      const attempt = await reserveAttempt(deps.db, key);
      if (!attempt.allowed) {
        // Refusals cost nothing to send: recording each would let anyone grow the
        // append-only trail without end. The first of the window says the limit was hit.
        if (attempt.firstRefusal) await failed('rate-limited');
        reply.header('retry-after', String(attempt.retryAfterSeconds));
        throw new AppError('too_many_requests', 'too many failed sign-ins; try again later');
      }
      const user = await findUserForSignIn(deps.db, request.body.email);
      // Checked for unknown and disabled accounts too, so that every refusal takes as long.
      const passwordMatches = await verifyPassword(request.body.password, user?.passwordHash);
      if (!user || user.disabledAt !== null || !passwordMatches) {
        await failed(!user ? 'unknown-email' : user.disabledAt ? 'disabled' : 'wrong-password');
        throw new AppError('unauthorized', 'wrong email or password');
      }
      await clearFailures(deps.db, key);
      const session = await inTransaction(deps.db, async (tx) => {
        const created = await createSession(tx, user.id, 'session');
        await recordAudit(tx, {
          actor: actorAs(request, { userId: user.id, label: user.email }),
          action: 'auth.signed-in',
          detail: { method: 'password' },
        });
        return created;
      });
      reply.header('set-cookie', sessionCookie(session.token, deps.secureCookies));
      return { id: user.id, email: user.email, name: user.name, role: user.role };
    },
  );

  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/auth/logout',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign out; the last browser session to sign out sets the presence to offline',
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        await inTransaction(deps.db, async (tx) => {
          await endSession(tx, user.sessionId);
          await recordAudit(tx, { actor: actorOf(request), action: 'auth.signed-out' });
        });
        // Signing out of the last browser session ends the working day: no more offers (a
        // pending one goes to another agent). Another open desk keeps the presence.
        if ((await countLiveSessions(deps.db, user.id)) === 0) {
          await deps.lastSessionEnded(user.id);
        }
        reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/me',
      {
        schema: { tags: ['auth'], summary: 'The signed-in user', response: { 200: userView } },
      },
      async (request) => {
        const { id, email, name, role } = currentUser(request);
        return { id, email, name, role };
      },
    );

    app.post(
      '/api/auth/tokens',
      {
        schema: {
          tags: ['auth'],
          summary:
            'Create an API token for the signed-in user; the secret is shown only in this answer',
          description:
            'Needs a browser session: an API token cannot make another (a leaked token could ' +
            'otherwise outlive its expiry and its revocation).',
          body: z.object({
            name: z.string().trim().min(1).max(100),
            expiresInDays: z
              .number()
              .int({ error: 'expiresInDays must be a whole number of days' })
              .min(1, { error: 'expiresInDays must be at least 1' })
              .max(3650, { error: 'expiresInDays must be at most 3650' })
              .optional()
              .describe('Days until the token stops working; absent: it never expires'),
          }),
          response: { 201: apiTokenView.extend({ token: z.string() }).meta({ id: 'NewApiToken' }) },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        if (user.tokenKind !== 'session') {
          throw new AppError(
            'forbidden',
            'sign in to create an API token; a token cannot make one',
          );
        }
        const created = await inTransaction(deps.db, async (tx) => {
          const token = await createApiToken(tx, user.id, request.body);
          await recordAudit(tx, {
            actor: actorOf(request),
            action: 'auth.token-created',
            target: { type: 'api-token', id: token.id },
            detail: {
              name: token.name,
              expiresAt: token.expiresAt?.toISOString() ?? null,
            },
          });
          return token;
        });
        return reply.status(201).send({ ...apiTokenJson(created), token: created.token });
      },
    );

    app.get(
      '/api/auth/tokens',
      {
        schema: {
          tags: ['auth'],
          summary: "The signed-in user's API tokens, or (admins) another user's; never the secrets",
          querystring: z.object({
            userId: z
              .uuid({ error: 'userId must be a UUID' })
              .optional()
              .describe("Whose tokens; another user's only for admins"),
          }),
          response: { 200: z.array(apiTokenView) },
        },
      },
      async (request) => {
        const user = currentUser(request);
        const userId = request.query.userId ?? user.id;
        if (userId !== user.id && user.role !== 'admin') {
          throw new AppError('forbidden', "only an admin may list another user's API tokens");
        }
        return (await listApiTokens(deps.db, userId)).map(apiTokenJson);
      },
    );

    app.delete(
      '/api/auth/tokens/:id',
      {
        schema: {
          tags: ['auth'],
          summary: "Revoke an API token: own tokens, or (admins) anyone's",
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        await inTransaction(deps.db, async (tx) => {
          const revoked = await revokeApiToken(
            tx,
            request.params.id,
            user.role === 'admin' ? undefined : user.id,
          );
          await recordAudit(tx, {
            actor: actorOf(request),
            action: 'auth.token-revoked',
            target: { type: 'api-token', id: request.params.id },
            detail: { name: revoked.name, ownerId: revoked.userId },
          });
        });
        return reply.status(204).send();
      },
    );
  });
}

/** Anything else typed into the email box (a password, say) never enters the trail. */
const NOT_AN_EMAIL = '(not an email address)';
// Dots only between the domain's labels, so that the match takes linear time.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** How a failed sign-in names who tried: the email given, if it looks like one. */
function signInLabel(email: string): string {
  return email.length <= 320 && EMAIL_SHAPE.test(email) ? email : NOT_AN_EMAIL;
}

function apiTokenJson(token: ApiToken) {
  return {
    id: token.id,
    userId: token.userId,
    name: token.name,
    createdAt: token.createdAt.toISOString(),
    expiresAt: token.expiresAt?.toISOString() ?? null,
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  };
}
