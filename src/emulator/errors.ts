/** An error answered the way Twilio's REST API answers it. */
export class TwilioApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

export function errorBody(status: number, code: number, message: string): TwilioErrorBody {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

export function notFound(path: string): TwilioApiError {
  return new TwilioApiError(404, 20404, `The requested resource ${path} was not found`);
}

/** Error texts for delivery failures recorded on Message resources. */
export const deliveryErrorMessages: Record<number, string> = {
  11200: 'HTTP retrieval failure',
  12300: 'Invalid Content-Type',
  21610: 'Attempt to send to unsubscribed recipient',
  21612: 'The To phone number is not currently reachable via SMS',
  21614: 'To number is not a valid mobile number',
  30001: 'Queue overflow',
  63016:
    'Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.',
  63034: 'Media exceeds size limit',
  30003: 'Unreachable destination handset',
  30005: 'Unknown destination handset',
  30006: 'Landline or unreachable carrier',
  30007: 'Message filtered',
  30008: 'Unknown error',
};
