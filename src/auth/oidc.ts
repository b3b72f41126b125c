/**
 * Single sign-on with an OpenID Connect provider: the authorization code flow with PKCE,
 * state and nonce (openid-client), and what Parley reads of the person it names.
 *
 * Nothing of a flow in progress is kept in this process: `startSignIn` hands the caller the
 * secrets to keep (the routes seal them into a short-lived cookie), and `finishSignIn` gets
 * them back, so any instance can finish a flow another one started.
 */
import type * as OpenIdClient from 'openid-client';
import type { OidcConfig, UserRole } from '../config.js';

/** What a flow in progress must remember between the redirect and the callback. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The person the provider vouched for, in the claims Parley reads. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  /** The provider says the email address is theirs (`email_verified: true`). */
  emailVerified: boolean;
  name: string | undefined;
  /** The role claim's value as sent, when OIDC_ROLE_CLAIM is set; undefined otherwise. */
  roleClaim: unknown;
}

/** Why a callback was refused before Parley looked for the user. */
export type FlowFailure = 'denied' | 'bad-state' | 'provider-error';

export class OidcFlowError extends Error {
  constructor(
    readonly reason: FlowFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OidcFlowError';
  }
}

/** Highest first: a person in several groups gets the most their groups give. */
const ROLE_RANK: readonly UserRole[] = ['admin', 'supervisor', 'agent'];

/** openid-client is loaded at the first sign-in: a Parley without single sign-on never needs it. */
const openIdClient = (): Promise<typeof OpenIdClient> => import('openid-client');

export class OidcSignIn {
  #discovered: Promise<OpenIdClient.Configuration> | undefined;

  constructor(
    readonly settings: OidcConfig,
    /** Where the provider sends the browser back: registered with the provider as is. */
    readonly redirectUri: string,
  ) {}

  /** The provider's authorization URL for a new flow, and what the callback will need. */
  async startSignIn(): Promise<{ url: URL; pending: PendingSignIn }> {
    const configuration = await this.#configuration();
    const client = await openIdClient();
    const pending: PendingSignIn = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
    };
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, pending };
  }

  /**
   * Checks the provider's answer (`search`: the callback's query string) against the flow it
   * belongs to, exchanges the code and validates the ID token (signature, issuer, audience,
   * expiry, nonce); reads userinfo too when the ID token lacks the email or the role claim.
   */
  async finishSignIn(search: string, pending: PendingSignIn): Promise<OidcIdentity> {
    const answer = new URLSearchParams(search);
    // The provider's own error (the person declined, or the provider refused the request)
    // comes back with the flow's state; an answer for another flow is refused either way.
    if (answer.get('state') !== pending.state) {
      throw new OidcFlowError('bad-state', 'the answer belongs to another sign-in');
    }
    const error = answer.get('error');
    if (error) {
      throw new OidcFlowError(
        error === 'access_denied' ? 'denied' : 'provider-error',
        `the provider answered ${error}`,
      );
    }
    const configuration = await this.#configuration();
    const client = await openIdClient();
    const callbackUrl = new URL(this.redirectUri);
    callbackUrl.search = answer.toString();
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      claims = { ...idToken };
      const lacking =
        idToken.email === undefined ||
        (this.settings.roleClaim !== undefined && idToken[this.settings.roleClaim] === undefined);
      if (lacking && configuration.serverMetadata().userinfo_endpoint) {
        // The ID token's claims win: they are signed; userinfo only fills in.
        const userInfo = await client.fetchUserInfo(
          configuration,
          tokens.access_token,
          idToken.sub,
        );
        claims = { ...userInfo, ...idToken };
      }
    } catch (cause) {
      throw new OidcFlowError('provider-error', 'the provider did not complete the sign-in', {
        cause,
      });
    }
    return {
      issuer: String(claims.iss),
      subject: String(claims.sub),
      email: typeof claims.email === 'string' && claims.email ? claims.email : undefined,
      emailVerified: claims.email_verified === true,
      name: [claims.name, claims.preferred_username].find(
        (value): value is string => typeof value === 'string' && value.trim() !== '',
      ),
      roleClaim: this.settings.roleClaim ? claims[this.settings.roleClaim] : undefined,
    };
  }

  /**
   * The role the role claim gives (mapped by OIDC_ROLE_MAP, else values that are role names),
   * the highest of several; undefined when no value gives one or there is no role claim.
   */
  roleOf(identity: OidcIdentity): UserRole | undefined {
    const values = (
      Array.isArray(identity.roleClaim) ? identity.roleClaim : [identity.roleClaim]
    ).filter((value): value is string => typeof value === 'string');
    const map = this.settings.roleMap;
    const roles = new Set(
      values.map((value) => (map ? map.get(value) : ROLE_RANK.find((role) => role === value))),
    );
    return ROLE_RANK.find((role) => roles.has(role));
  }

  /**
   * The provider's metadata, fetched once per process; a failure is forgotten so that the next
   * sign-in tries again (the provider may have been down for a moment).
   */
  #configuration(): Promise<OpenIdClient.Configuration> {
    this.#discovered ??= openIdClient()
      .then((client) =>
        client.discovery(
          new URL(this.settings.issuerUrl),
          this.settings.clientId,
          undefined,
          // OpenID Connect's default method: every provider supports it.
          client.ClientSecretBasic(this.settings.clientSecret),
          // Plain http is allowed by the configuration only for a provider on this machine.
          new URL(this.settings.issuerUrl).protocol === 'http:'
            ? { execute: [client.allowInsecureRequests] }
            : {},
        ),
      )
      .catch((cause: unknown) => {
        this.#discovered = undefined;
        throw new OidcFlowError('provider-error', 'the sign-in provider could not be reached', {
          cause,
        });
      });
    return this.#discovered;
  }
}
