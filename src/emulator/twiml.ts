/** One `<Message>` verb of a Messaging TwiML answer. */
export interface TwimlMessage {
  body: string;
  media: string[];
  to: string | null;
  from: string | null;
  statusCallback: string | null;
}

export class TwimlParseError extends Error {}

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}
type XmlNode = XmlElement | string;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const named = ENTITIES[ref];
    if (named === undefined) throw new TwimlParseError(`unknown entity ${whole}`);
    return named;
  });
}

/** A small, strict XML reader: enough for TwiML (elements, attributes, text, CDATA, comments). */
function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [] };
  const stack: XmlElement[] = [root];
  const top = (): XmlElement => stack[stack.length - 1] ?? root;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt === -1 ? xml.length : lt;
    if (textEnd > i) top().children.push(decodeEntities(xml.slice(i, textEnd)));
    if (lt === -1) break;
    if (xml.startsWith('<?', lt)) {
      i = closeAt(xml, '?>', lt) + 2;
    } else if (xml.startsWith('<!--', lt)) {
      i = closeAt(xml, '-->', lt) + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = closeAt(xml, ']]>', lt);
      top().children.push(xml.slice(lt + 9, end));
      i = end + 3;
    } else if (xml.startsWith('<!', lt)) {
      i = closeAt(xml, '>', lt) + 1;
    } else if (xml.startsWith('</', lt)) {
      const end = closeAt(xml, '>', lt);
      const name = xml.slice(lt + 2, end).trim();
      const open = stack.pop();
      if (!open || open === root || open.name !== name) {
        throw new TwimlParseError(`unexpected closing tag </${name}>`);
      }
      i = end + 1;
    } else {
      const end = closeAt(xml, '>', lt);
      let inner = xml.slice(lt + 1, end);
      const selfClosing = inner.endsWith('/');
      if (selfClosing) inner = inner.slice(0, -1);
      const nameMatch = /^([A-Za-z_][\w.:-]*)/.exec(inner);
      if (!nameMatch?.[1]) throw new TwimlParseError('malformed tag');
      const element: XmlElement = { name: nameMatch[1], attrs: {}, children: [] };
      const rest = inner.slice(nameMatch[1].length);
      const attrPattern = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/gy;
      let consumed = 0;
      for (let m = attrPattern.exec(rest); m; m = attrPattern.exec(rest)) {
        element.attrs[m[1] ?? ''] = decodeEntities(m[3] ?? m[4] ?? '');
        consumed = attrPattern.lastIndex;
      }
      if (rest.slice(consumed).trim() !== '')
        throw new TwimlParseError(`malformed attributes in <${element.name}>`);
      top().children.push(element);
      if (!selfClosing) stack.push(element);
      i = end + 1;
    }
  }
  if (stack.length !== 1) throw new TwimlParseError(`unclosed tag <${top().name}>`);
  return root;
}

function closeAt(xml: string, token: string, from: number): number {
  const at = xml.indexOf(token, from);
  if (at === -1) throw new TwimlParseError('unterminated markup');
  return at;
}

function textOf(node: XmlNode): string {
  return typeof node === 'string' ? node : node.children.map(textOf).join('');
}

function elements(node: XmlElement, name?: string): XmlElement[] {
  return node.children.filter(
    (c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name),
  );
}

/**
 * Reads the `<Message>` verbs of a Messaging TwiML document. Throws TwimlParseError when the
 * document is not XML or its root is not `<Response>` (Twilio's error 12100).
 */
export function parseMessagingTwiml(xml: string): TwimlMessage[] {
  const doc = parseXml(xml);
  const roots = elements(doc);
  const stray = doc.children.some((c) => typeof c === 'string' && c.trim() !== '');
  if (roots.length !== 1 || stray) throw new TwimlParseError('document must have one root element');
  const response = roots[0];
  if (response?.name !== 'Response') {
    throw new TwimlParseError('root element must be <Response>');
  }
  return elements(response, 'Message').map((message) => {
    const bodies = elements(message, 'Body');
    const media = elements(message, 'Media').map((m) => textOf(m).trim());
    const body =
      bodies.length > 0 || media.length > 0 ? bodies.map(textOf).join('') : textOf(message);
    return {
      body: body.trim(),
      media: media.filter((m) => m !== ''),
      to: message.attrs.to ?? null,
      from: message.attrs.from ?? null,
      statusCallback: message.attrs.statusCallback ?? message.attrs.action ?? null,
    };
  });
}
