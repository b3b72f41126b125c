/**
 * The embedded store's queries in one exchange each. PGlite's own `query` sends Parse,
 * Describe, Bind, Describe, Execute and Sync as six calls into WASM, each parsed back in JS,
 * so that it can serialise parameters by their described types. Parley's parameters are
 * what node-postgres sends a server as text (strings, numbers, booleans, dates, arrays,
 * JSON), whose types the server infers from the statement: so here the messages go in one
 * buffer and come back from one call, as they do over a socket.
 */
import {
  type PGlite,
  parse,
  protocol,
  type QueryOptions,
  type Results,
} from '@electric-sql/pglite';

type Transaction = Parameters<Parameters<PGlite['transaction']>[0]>[0];

/**
 * The client to hand Drizzle: its `query`, and `query` inside its transactions, take one
 * exchange; everything else is the PGlite client's own.
 */
export function withOneExchangeQueries(client: PGlite): PGlite {
  // Outside a transaction a query waits for any open transaction to end, as PGlite's does.
  const query = (text: string, params?: unknown[], options?: QueryOptions) =>
    client._runExclusiveTransaction(() =>
      client._runExclusiveQuery(() => exchange(client, text, params, options, true)),
    );
  const transaction = <T>(callback: (tx: Transaction) => Promise<T>) =>
    client.transaction((tx) => {
      const inTransaction: Transaction = Object.create(tx, {
        query: {
          value: async (text: string, params?: unknown[], options?: QueryOptions) => {
            if (tx.closed) throw new Error('Transaction is closed');
            return client._runExclusiveQuery(() => exchange(client, text, params, options, false));
          },
        },
      });
      return callback(inTransaction);
    });
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query;
      if (property === 'transaction') return transaction;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function exchange(
  client: PGlite,
  text: string,
  params: unknown[] = [],
  options: QueryOptions | undefined,
  syncToFs: boolean,
): Promise<Results> {
  const { serialize } = protocol;
  const statements = preparedStatementsOf(client);
  const statement = statements.nameFor(text);
  const message = Buffer.concat([
    ...statements.takeClosing().map((name) => serialize.close({ type: 'S', name })),
    // Parsed unless named by an earlier exchange; an unnamed statement is parsed each time.
    ...(statement?.parse === false ? [] : [serialize.parse({ name: statement?.name, text })]),
    serialize.bind({ statement: statement?.name, values: params.map(asText) }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
  try {
    const { messages } = await client.execProtocol(message, { syncToFs });
    // parseResults would copy the client's 318 type parsers into a new object to lay a
    // query's own over them (Drizzle passes its own on every query): the copy was most of
    // what a webhook allocated. An object of the query's own, over the client's, reads the same.
    const parsers = options?.parsers
      ? Object.assign(Object.create(client.parsers), options.parsers)
      : client.parsers;
    return parse.parseResults(messages, parsers, options && { ...options, parsers: undefined })[0]!;
  } catch (error) {
    // A statement that was there before and failed on its data (a duplicate key, a bad
    // value, an aborted transaction) is still there. Otherwise whether it is, or still fits
    // its tables, is not known: close the name, which is no error if it does not exist, and
    // prepare the text afresh.
    if (statement && (statement.parse || !failedOnItsData(error))) statements.forget(text);
    throw error;
  }
}

/** SQLSTATEs of a named statement that is gone (26000) or no longer fits its tables (0A000). */
const STATEMENT_GONE = new Set(['26000', '0A000']);

function failedOnItsData(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && !STATEMENT_GONE.has(code);
}

/**
 * A statement that begins with this comment is never named. For the outbox dispatcher's
 * choice of sender and its wait for the next slot: named, the dispatcher claimed twice as
 * often in smaller claims and bench/outbound fell from 0.97-0.99 to 0.94-0.96 of the
 * senders' rates on PGlite (four alternated rounds each); why is not understood yet.
 */
export const PLANNED_EACH_TIME = '/* planned each time */';

/**
 * Named statements of one PGlite, for texts it runs again and again. Planning Parley's
 * batch statements costs more than running them for a few rows (and each relation it
 * plans is a file-size lookup in the embedded file system); a named statement is parsed
 * once and, once PostgreSQL settles on a generic plan, not planned again. A text is
 * prepared when seen the third time, so one-off statements are never named, and at most
 * MAX_PREPARED are kept (each holds its plans in PGlite's memory, which never shrinks).
 */
const MAX_PREPARED = 64;
const MAX_COUNTED = 1_000;
const PREPARE_AT_SIGHT = 3;

class PreparedStatements {
  readonly #named = new Map<string, string>();
  readonly #sightings = new Map<string, number>();
  #closing: string[] = [];
  #next = 0;

  /** The statement to bind for a text, and whether this exchange must parse it first. */
  nameFor(text: string): { name: string; parse: boolean } | undefined {
    if (text.startsWith(PLANNED_EACH_TIME)) return undefined;
    const name = this.#named.get(text);
    if (name !== undefined) {
      // Most recently used last: the first entry is the one to evict.
      this.#named.delete(text);
      this.#named.set(text, name);
      return { name, parse: false };
    }
    const seen = (this.#sightings.get(text) ?? 0) + 1;
    if (seen < PREPARE_AT_SIGHT) {
      if (this.#sightings.size >= MAX_COUNTED) this.#sightings.clear();
      this.#sightings.set(text, seen);
      return undefined;
    }
    this.#sightings.delete(text);
    if (this.#named.size >= MAX_PREPARED) {
      const [evicted] = this.#named;
      this.forget(evicted![0]);
    }
    const fresh = `parley_${this.#next++}`;
    this.#named.set(text, fresh);
    return { name: fresh, parse: true };
  }

  forget(text: string): void {
    const name = this.#named.get(text);
    if (name === undefined) return;
    this.#named.delete(text);
    this.#closing.push(name);
  }

  /** Names to close at the start of the next exchange. */
  takeClosing(): string[] {
    const closing = this.#closing;
    this.#closing = [];
    return closing;
  }
}

const prepared = new WeakMap<PGlite, PreparedStatements>();

function preparedStatementsOf(client: PGlite): PreparedStatements {
  let statements = prepared.get(client);
  if (!statements) {
    statements = new PreparedStatements();
    prepared.set(client, statements);
  }
  return statements;
}

/** A parameter in the text format, as node-postgres sends it. */
export function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return arrayLiteral(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((item) => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayLiteral(item);
    return `"${asText(item)!.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}
