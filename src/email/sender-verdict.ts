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

/**
 * A header value split at its top-level semicolons, with comments (which nest, and may hold
 * escaped characters) replaced by a space and quoted strings unquoted (RFC 8601 and RFC 5322's
 * CFWS and quoted-string). Text the relay copied from the sender (a HELO name, a reverse-DNS
 * name) sits in comments or quotes, so a semicolon or a "dkim=pass" in it stays inside.
 */
/** A quoted value is one token: a space or separator in it, escaped or not, never splits it. */
function inQuotes(char: string): string {
  return /[\s;=]/.test(char) ? '_' : char;
}

function statementsOf(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if ((depth > 0 || quoted) && char === '\\') {
      if (quoted) current += inQuotes(value[i + 1] ?? '');
      i += 1;
    } else if (quoted) {
      if (char === '"') quoted = false;
      else current += inQuotes(char);
    } else if (char === '(') {
      depth += 1;
    } else if (char === ')' && depth > 0) {
      depth -= 1;
      if (depth === 0) current += ' ';
    } else if (depth > 0) {
      // Inside a comment: nothing counts.
    } else if (char === '"') {
      quoted = true;
    } else if (char === ';') {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The results in the topmost Authentication-Results header the relay `authservId` wrote. A
 * relay adds its header above those it received (RFC 8601 section 5), so any lower one under
 * its name came from the sender, had the relay failed to remove it.
 */
function resultsOf(headerValues: readonly string[], authservId: string): MethodResult[] {
  for (const raw of headerValues) {
    const [head = '', ...resinfos] = statementsOf(raw);
    // The authserv-id, optionally followed by a version number.
    const id = head.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    if (id !== authservId) continue;
    const results: MethodResult[] = [];
    for (const resinfo of resinfos) {
      const match = /^\s*([a-z-]+)\s*=\s*([a-z]+)(.*)$/is.exec(resinfo);
      if (!match) continue;
      const properties = new Map<string, string>();
      for (const property of match[3]!.matchAll(/([a-z-]+\.[a-z-]+)\s*=\s*(\S+)/gi)) {
        // The first of a name is the relay's: a later one could only come from copied text.
        const name = property[1]!.toLowerCase();
        if (!properties.has(name)) properties.set(name, property[2]!.toLowerCase());
      }
      results.push({
        method: match[1]!.toLowerCase(),
        result: match[2]!.toLowerCase(),
        properties,
      });
    }
    return results;
  }
  return [];
}

/** The domain of an address (`ada@example.com`), or the value itself when it is a domain. */
function domainOf(value: string): string {
  return value.slice(value.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * Whether `signer` is `domain` or a parent of it. Looser than DMARC's relaxed alignment,
 * which stops at the organisational domain: a platform that signs as its own domain for its
 * tenants' subdomains vouches for them all. Keep the sender's domain out of such platforms,
 * or rely on DMARC's verdict, which the relay computes with the public suffix list.
 */
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
