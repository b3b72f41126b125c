/**
 * A real OpenID provider for tests (oidc-provider with its development login and consent
 * pages), on a port of its own, with one confidential client whose redirect URI is Parley's
 * callback; and a way to go through its pages without a browser.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The people who can sign in, by the login typed on the provider's page (the subject). */
  accounts: Map<string, TestAccount>;
  /** The OIDC_* settings of a Parley using this provider. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startOidcProvider(redirectUris: string[]): Promise<TestProvider> {
  const accounts = new Map<string, TestAccount>();
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'parley';
  const clientSecret = 'a test client secret that nobody logs';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    cookies: { keys: ['oidc test cookie key'] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    // `groups` travels with the profile scope, in userinfo (not in the ID token, as by default).
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'groups'],
    },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, ...accounts.get(id) }),
    }),
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    env: {
      OIDC_ISSUER_URL: issuer,
      OIDC_CLIENT_ID: clientId,
      OIDC_CLIENT_SECRET: clientSecret,
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Goes from the provider's authorization URL through its login page (as `login`, any
 * password) and consent page, or cancels at the login page, like a browser would; resolves
 * to the URL the provider sends the browser back to (Parley's callback with its query).
 */
export async function passProviderPages(
  authorizationUrl: string,
  callbackUrl: string,
  action: { login: string } | 'cancel',
): Promise<URL> {
  const cookies = new Map<string, string>();
  let response = await request(authorizationUrl, cookies);
  for (let step = 0; step < 20; step++) {
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, response.url);
      if (next.href.startsWith(callbackUrl)) return next;
      response = await request(next.href, cookies);
      continue;
    }
    const page = await response.text();
    if (response.status !== 200)
      throw new Error(`the provider answered ${response.status}: ${page}`);
    const form = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(page)?.[1];
    if (!form || !prompt) throw new Error(`no form on the provider's page: ${page}`);
    if (prompt === 'login' && action === 'cancel') {
      const abort = /href="([^"]*\/abort)"/.exec(page)?.[1];
      response = await request(new URL(abort!, response.url).href, cookies);
      continue;
    }
    const fields: Record<string, string> =
      prompt === 'login' && action !== 'cancel'
        ? { prompt, login: action.login, password: 'any password' }
        : { prompt };
    response = await request(
      new URL(form, response.url).href,
      cookies,
      new URLSearchParams(fields),
    );
  }
  throw new Error('the provider never sent the browser back');
}

async function request(
  url: string,
  cookies: Map<string, string>,
  form?: URLSearchParams,
): Promise<Response> {
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
      ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    body: form,
  });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const cut = pair!.indexOf('=');
    cookies.set(pair!.slice(0, cut), pair!.slice(cut + 1));
  }
  return response;
}
