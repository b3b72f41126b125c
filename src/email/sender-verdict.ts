/**
 * Whether the relay in front of the SMTP listener vouched for a mail's sender. Parley does
 * not look up SPF records or DKIM keys itself: the relay that took the mail from the
 * internet did, and wrote what it found in an Authentication-Results header (RFC 8601)
 * under its own authserv-id. Only headers under the trusted id count; any other is the
 * sender's to write, and is ignored.
 *
 * A mail passes when, at that relay, DMARC passed for the From domain, DKIM passed with a
 * signature of the From domain (or a parent of it), or SPF passed for the envelope sender's
 * domain. The listener has already required the From header to be the envelope sender.
 */

/** One method's result in an Authentication-Results header, with its properties. */
interface MethodResult {
  method: string;
  result: string;
  properties: Map<string, string>;
}

/** The values of a mail's Authentication-Results headers that the relay `authservId` wrote. */
function resultsOf(headerValues: readonly string[], authservId: string): MethodResult[] {
  const results: MethodResult[] = [];
  for (const raw of headerValues) {
    // Comments in parentheses say nothing a check needs, and may hold semicolons.
    const value = raw.replace(/\([^()]*\)/g, ' ');
    const [head = '', ...resinfos] = value.split(';');
    // The authserv-id, optionally followed by a version number.
    const id = head.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    if (id !== authservId) continue;
    for (const resinfo of resinfos) {
      const match = /^\s*([a-z-]+)\s*=\s*([a-z]+)(.*)$/is.exec(resinfo);
      if (!match) continue;
      const properties = new Map<string, string>();
      for (const property of match[3]!.matchAll(/([a-z-]+\.[a-z-]+)\s*=\s*"?([^\s";]+)"?/gi)) {
        properties.set(property[1]!.toLowerCase(), property[2]!.toLowerCase());
      }
      results.push({
        method: match[1]!.toLowerCase(),
        result: match[2]!.toLowerCase(),
        properties,
      });
    }
  }
  return results;
}

/** The domain of an address (`ada@example.com`), or the value itself when it is a domain. */
function domainOf(value: string): string {
  return value.slice(value.lastIndexOf('@') + 1).toLowerCase();
}

/** Whether `signer` is `domain` or a parent of it (DKIM's relaxed alignment). */
function aligned(signer: string, domain: string): boolean {
  return domain === signer || domain.endsWith(`.${signer}`);
}

export function senderVerified(
  headerValues: readonly string[],
  authservId: string,
  sender: string,
): boolean {
  const domain = domainOf(sender);
  return resultsOf(headerValues, authservId).some(({ method, result, properties }) => {
    if (result !== 'pass') return false;
    switch (method) {
      case 'dmarc':
        return domainOf(properties.get('header.from') ?? '') === domain;
      case 'dkim': {
        const signer = properties.get('header.d') ?? domainOf(properties.get('header.i') ?? '');
        return signer !== '' && aligned(signer, domain);
      }
      case 'spf':
        return domainOf(properties.get('smtp.mailfrom') ?? '') === domain;
      default:
        return false;
    }
  });
}

/** The values of a mail's Authentication-Results headers, unfolded, from its raw lines. */
export function authenticationResults(
  headerLines: readonly { key: string; line: string }[],
): string[] {
  return headerLines
    .filter((header) => header.key === 'authentication-results')
    .map((header) => header.line.slice(header.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' '));
}
