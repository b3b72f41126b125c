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
  const message = Buffer.concat([
    serialize.parse({ text }),
    serialize.bind({ values: params.map(asText) }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
  const { messages } = await client.execProtocol(message, { syncToFs });
  return parse.parseResults(messages, client.parsers, options)[0]!;
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
