/**
 * The browser's side of single sign-on: /api/auth/oidc/start sends it to the provider,
 * /api/auth/oidc/callback brings it back signed in. Both are top-level navigations, not API
 * calls, so they answer with redirects: to the app when signed in, else to the sign-in page
 * with `?sso_error=<reason>`, which the page explains (never a 500 or a JSON error page).
 *
 * The callback is a cross-site navigation (from the provider), so the guard's same-origin
 * rule for sign-ins cannot hold for it; what protects it is the flow's state, PKCE verifier
 * and nonce, sealed in a short-lived cookie that only this browser carries back.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../audit/audit-log.js';
import type { OidcConfig } from '../config.js';
import type { Db } from '../db/store.js';
import type { SecretBox } from '../secret-box.js';
import { OidcFlowError, OidcSignIn, type PendingSignIn } from './oidc.js';
import { type OidcRefusal, recordOidcRefusal, signInWithOidc } from './oidc-users.js';
import { sessionCookie } from './sessions.js';

export const OIDC_CALLBACK_PATH = '/api/auth/oidc/callback';
const OIDC_START_PATH = '/api/auth/oidc/start';
const FLOW_COOKIE = 'parley_oidc';
/** How long a person may take at the provider's sign-in page. */
const FLOW_TTL_MS = 10 * 60 * 1000;

export interface OidcRouteDeps {
  db: Db;
  secretBox: SecretBox;
  publicUrl: string;
  secureCookies: boolean;
  oidc: OidcConfig | undefined;
  passwordSignIn: boolean;
}

const signInMethods = z
  .object({
    password: z.boolean().describe('Whether POST /api/auth/login signs in'),
    sso: z
      .object({
        label: z.string().describe("The sign-in page's button label"),
        startUrl: z.string().describe('Where the button goes'),
      })
      .nullable()
      .describe('Single sign-on; null when not configured'),
  })
  .meta({ id: 'SignInMethods' });

export function registerOidcRoutes(parent: FastifyInstance, deps: OidcRouteDeps): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const oidc = deps.oidc;

  app.get(
    '/api/auth/methods',
    {
      schema: {
        tags: ['auth'],
        summary: 'How people sign in here (for the sign-in page; no sign-in needed)',
        security: [],
        response: { 200: signInMethods },
      },
    },
    async () => ({
      password: deps.passwordSignIn,
      sso: oidc ? { label: oidc.buttonLabel, startUrl: OIDC_START_PATH } : null,
    }),
  );

  if (!oidc) return;
  const signIn = new OidcSignIn(oidc, `${deps.publicUrl}${OIDC_CALLBACK_PATH}`);
  const cookieAttributes = `HttpOnly; SameSite=Lax${deps.secureCookies ? '; Secure' : ''}`;
  // Path: only the callback needs it back.
  const flowCookie = (value: string, maxAgeSeconds: number) =>
    `${FLOW_COOKIE}=${value}; Path=${OIDC_CALLBACK_PATH}; ${cookieAttributes}; Max-Age=${maxAgeSeconds}`;

  const refuse = async (
    request: FastifyRequest,
    reply: FastifyReply,
    reason: OidcRefusal,
    cause?: unknown,
    level: 'info' | 'warn' = 'warn',
  ) => {
    request.log[level]({ reason, err: cause }, 'single sign-on refused');
    reply.header('set-cookie', flowCookie('', 0));
    return reply.redirect(`/?sso_error=${reason}`, 303);
  };

  app.get(OIDC_START_PATH, { schema: { hide: true } }, async (request, reply) => {
    try {
      const { url, pending } = await signIn.startSignIn();
      const sealed = deps.secretBox.seal(
        JSON.stringify({ ...pending, expiresAt: Date.now() + FLOW_TTL_MS }),
      );
      reply.header('set-cookie', flowCookie(sealed, FLOW_TTL_MS / 1000));
      return reply.redirect(url.href, 303);
    } catch (error) {
      return refuse(request, reply, 'provider-error', error);
    }
  });

  app.get(OIDC_CALLBACK_PATH, { schema: { hide: true } }, async (request, reply) => {
    const search = request.url.split('?')[1] ?? '';
    const actor = actorOf(request);
    const pending = pendingOf(request, deps.secretBox);
    if (pending === 'none') {
      // Anyone can send this for nothing, so it is not recorded in the append-only trail: no
      // sign-in was attempted from this browser.
      return refuse(request, reply, 'bad-state', undefined, 'info');
    }
    try {
      if (pending === 'expired') throw new OidcFlowError('bad-state', 'the sign-in took too long');
      const identity = await signIn.finishSignIn(search, pending);
      const result = await signInWithOidc(
        deps.db,
        identity,
        {
          claimedRole: oidc.roleClaim ? signIn.roleOf(identity) : null,
          defaultRole: oidc.defaultRole,
          createUsers: oidc.createUsers,
        },
        actor,
      );
      if (!result.ok) return await refuse(request, reply, result.reason);
      reply.header('set-cookie', [
        flowCookie('', 0),
        sessionCookie(result.sessionToken, deps.secureCookies),
      ]);
      // The app's home sends each role to its own page.
      return reply.redirect('/', 303);
    } catch (error) {
      if (!(error instanceof OidcFlowError)) {
        request.log.error({ err: error }, 'single sign-on failed');
        reply.header('set-cookie', flowCookie('', 0));
        return reply.redirect('/?sso_error=failed', 303);
      }
      await recordOidcRefusal(deps.db, actor, { reason: error.reason }).catch((failure) =>
        request.log.error({ err: failure }, 'single sign-on refusal not recorded'),
      );
      return refuse(request, reply, error.reason, error);
    }
  });
}

/**
 * The flow this browser started; `expired` when its cookie is ours but too old; `none` when
 * it carries no cookie, or one not sealed here (altered, or under another APP_SECRET), which
 * anyone can make up as easily as send none.
 */
function pendingOf(
  request: FastifyRequest,
  secretBox: SecretBox,
): PendingSignIn | 'expired' | 'none' {
  const raw = request.headers.cookie
    ?.split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith(`${FLOW_COOKIE}=`))
    ?.slice(FLOW_COOKIE.length + 1);
  if (!raw) return 'none';
  let flow: PendingSignIn & { expiresAt: number };
  try {
    flow = JSON.parse(secretBox.open(raw)) as PendingSignIn & { expiresAt: number };
  } catch {
    return 'none';
  }
  return flow.expiresAt > Date.now() ? flow : 'expired';
}
