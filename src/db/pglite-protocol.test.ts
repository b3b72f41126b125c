import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asText, withOneExchangeQueries } from './pglite-protocol.js';

let raw: PGlite;
let client: PGlite;
beforeAll(async () => {
  raw = await PGlite.create();
  client = withOneExchangeQueries(raw);
});
afterAll(() => raw?.close());

describe('queries in one exchange', () => {
  it('reads back what PGlite’s own query reads, for the parameter kinds Parley sends', async () => {
    const params = [
      'it\'s "quoted" \\ and ünïcode',
      42,
      true,
      new Date('2026-11-30T12:34:56.789Z'),
      ['a', 'b "c"', null, 'd\\e'],
      JSON.stringify({ nested: { list: [1, 2] } }),
      null,
      '4b4f3b9e-3f8a-4d0e-9a55-9f2f7e1f2a10',
    ];
    const text = `SELECT $1::text AS t, $2::int AS i, $3::boolean AS b, $4::timestamptz AS d,
                         $5::text[] AS a, $6::jsonb AS j, $7::text AS n, $8::uuid AS u`;
    const own = await raw.query(text, params);
    const one = await client.query(text, params);
    expect(one.rows).toEqual(own.rows);
    expect(one.fields).toEqual(own.fields);
  });

  it('reports an error with its SQLSTATE and leaves the client usable', async () => {
    await expect(client.query('SELECT $1::int', ['not a number'])).rejects.toMatchObject({
      code: '22P02',
    });
    expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('runs inside a transaction, which a query from outside waits for', async () => {
    await client.query('CREATE TABLE IF NOT EXISTS counted (n int)');
    const order: string[] = [];
    let inside!: () => void;
    const started = new Promise<void>((resolve) => {
      inside = resolve;
    });
    const tx = client.transaction(async (t) => {
      await t.query('INSERT INTO counted VALUES ($1)', [1]);
      inside();
      await new Promise((resolve) => setImmediate(resolve));
      order.push('transaction');
      await t.query('INSERT INTO counted VALUES ($1)', [2]);
    });
    await started;
    const outside = client
      .query<{ n: number }>('SELECT count(*)::int AS n FROM counted')
      .then((r) => {
        order.push('outside');
        return r.rows[0]!.n;
      });
    await tx;
    expect(await outside).toBe(2);
    expect(order).toEqual(['transaction', 'outside']);
  });

  it('writes arrays, quotes and nulls as PostgreSQL array literals', () => {
    expect(asText(['a', 'b "c"', null, 'd\\e'])).toBe('{"a","b \\"c\\"",NULL,"d\\\\e"}');
    expect(asText([[1, 2], [3]])).toBe('{{"1","2"},{"3"}}');
    expect(asText(undefined)).toBe(null);
  });
});
