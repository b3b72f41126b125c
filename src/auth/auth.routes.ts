import { eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { users } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { setPresence } from '../routing/presence.js';
import { currentUser, registerSignedInRoutes, SESSION_COOKIE } from './guard.js';
import { verifyPassword } from './passwords.js';
import { countLiveSessions, createSession, endSession, SESSION_TTL_MS } from './sessions.js';
import { clearFailures, isLockedOut, recordFailure, signInKey } from './sign-in-limit.js';
import { ROLES } from './users.js';

const userView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
});

export function registerAuthRoutes(
  parent: FastifyInstance,
  deps: { db: Db; secureCookies: boolean },
): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in; sets the session cookie',
        body: z.object({ email: z.string().min(1), password: z.string().min(1) }),
        response: { 200: userView },
      },
    },
    async (request, reply) => {
      const key = signInKey(request.ip, request.body.email);
      if (await isLockedOut(deps.db, key)) {
        throw new AppError('too_many_requests', 'too many failed sign-ins; try again later');
      }
      const [user] = await deps.db
        .select()
        .from(users)
        .where(sql`lower(${users.email}) = lower(${request.body.email})`);
      const valid =
        user !== undefined &&
        user.disabledAt === null &&
        (await verifyPassword(request.body.password, user.passwordHash));
      if (!valid || !user) {
        await recordFailure(deps.db, key);
        throw new AppError('unauthorized', 'wrong email or password');
      }
      await clearFailures(deps.db, key);
      const session = await createSession(deps.db, user.id, 'session');
      reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${session.token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_MS / 1000}${deps.secureCookies ? '; Secure' : ''}`,
      );
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
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        await endSession(deps.db, user.sessionId);
        // Signing out of the last browser session ends the working day: no more offers (a
        // pending one goes to another agent). Another open desk keeps the presence.
        if ((await countLiveSessions(deps.db, user.id)) === 0) {
          await setPresence(deps.db, user.id, 'offline', user.id);
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
        const { sessionId: _, ...user } = currentUser(request);
        return user;
      },
    );

    app.post(
      '/api/auth/tokens',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create an API token for the signed-in user (shown once)',
          body: z.object({ name: z.string().trim().min(1).max(100) }),
          response: { 201: z.object({ id: z.string(), token: z.string() }) },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        const [exists] = await deps.db
          .select({ id: users.id })
          .from(users)
          .where(eq(users.id, user.id));
        if (!exists) throw new AppError('not_found', 'user not found');
        const { id, token } = await createSession(deps.db, user.id, 'api-token', {
          name: request.body.name,
          ttlMs: null,
        });
        return reply.status(201).send({ id, token });
      },
    );
  });
}
