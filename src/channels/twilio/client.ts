import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type { AccountCredentials } from '../../admin/accounts.js';
import { AppError } from '../../errors.js';

export type TwilioClient = ReturnType<typeof twilio>;

export const TWILIO_API_URL = 'https://api.twilio.com';

type RequestOptions<TData> = RequestClient.RequestOptions<TData>;

/** Sends the official client's requests for any *.twilio.com host to another base URL. */
class RebasedRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super({ timeout: 15_000, keepAlive: true });
  }

  override request<TData>(opts: RequestOptions<TData>) {
    return super.request<TData>({
      ...opts,
      uri: opts.uri.replace(/^https:\/\/[a-z0-9.-]+\.twilio\.com/, this.baseUrl),
    });
  }
}

/**
 * The official `twilio` client for one account: with its API key when it has one (the
 * narrower credential), else the auth token. apiUrl other than Twilio's is the emulator.
 */
export function createTwilioClient(credentials: AccountCredentials, apiUrl: string): TwilioClient {
  const httpClient =
    apiUrl === TWILIO_API_URL
      ? new twilio.RequestClient({ timeout: 15_000, keepAlive: true })
      : new RebasedRequestClient(apiUrl);
  if (credentials.apiKeySid && credentials.apiKeySecret) {
    return twilio(credentials.apiKeySid, credentials.apiKeySecret, {
      accountSid: credentials.accountSid,
      httpClient,
    });
  }
  return twilio(credentials.accountSid, credentials.authToken, { httpClient });
}

/** What a failed Twilio call tells us: its error code and HTTP status, if it got that far. */
export interface TwilioFailure {
  status: number | null;
  code: number | null;
  message: string;
}

export function describeTwilioError(error: unknown): TwilioFailure {
  if (error && typeof error === 'object') {
    const e = error as { status?: unknown; code?: unknown; message?: unknown };
    const status = typeof e.status === 'number' ? e.status : null;
    const code = typeof e.code === 'number' ? e.code : null;
    return { status, code, message: typeof e.message === 'string' ? e.message : String(error) };
  }
  return { status: null, code: null, message: String(error) };
}

/** Twilio's Account fetch with these credentials: 422 when Twilio refuses them. */
export async function checkTwilioCredentials(
  credentials: AccountCredentials,
  apiUrl: string,
): Promise<void> {
  const client = createTwilioClient(credentials, apiUrl);
  try {
    await client.api.v2010.accounts(credentials.accountSid).fetch();
  } catch (error) {
    const failure = describeTwilioError(error);
    if (failure.status === 401 || failure.status === 403 || failure.status === 404) {
      throw new AppError(
        'unprocessable',
        `Twilio refused these credentials: ${failure.message}`,
        'authToken',
      );
    }
    throw new AppError(
      'unavailable',
      `Twilio could not be reached to check the credentials: ${failure.message}`,
    );
  }
}
