import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asText, PLANNED_EACH_TIME, withOneExchangeQueries } from './pglite-protocol.js';

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

describe('named statements for recurring texts', () => {
  const preparedTexts = async () =>
    (
      await raw.query<{ statement: string }>(
        `SELECT statement FROM pg_prepared_statements WHERE name LIKE 'parley\\_%'`,
      )
    ).rows.map((row) => row.statement);

  it('prepares a text on its third run and binds it from then on', async () => {
    const text = 'SELECT $1::int * 2 AS doubled';
    for (const n of [1, 2]) {
      expect((await client.query(text, [n])).rows).toEqual([{ doubled: n * 2 }]);
    }
    expect(await preparedTexts()).not.toContain(text);
    for (const n of [3, 4, 5]) {
      expect((await client.query(text, [n])).rows).toEqual([{ doubled: n * 2 }]);
    }
    expect((await preparedTexts()).filter((statement) => statement === text)).toHaveLength(1);
  });

  it('keeps a statement that failed on its data, with the failure’s SQLSTATE', async () => {
    const text = 'SELECT 10 / $1::int AS tenth';
    for (const n of [1, 2, 5]) await client.query(text, [n]);
    await expect(client.query(text, [0])).rejects.toMatchObject({ code: '22012' });
    expect((await client.query(text, [2])).rows).toEqual([{ tenth: 5 }]);
    expect((await preparedTexts()).filter((statement) => statement === text)).toHaveLength(1);
  });

  it('prepares it afresh when its first run fails', async () => {
    const text = 'SELECT 100 / $1::int AS hundredth';
    await client.query(text, [1]);
    await client.query(text, [2]);
    await expect(client.query(text, [0])).rejects.toMatchObject({ code: '22012' });
    // Its name is closed at the start of the next exchange.
    await client.query('SELECT 1');
    expect(await preparedTexts()).not.toContain(text);
    for (const n of [1, 2, 5]) await client.query(text, [n]);
    expect((await preparedTexts()).filter((statement) => statement === text)).toHaveLength(1);
  });

  it('answers again after a table’s columns change under a prepared statement', async () => {
    await client.query('CREATE TABLE reshaped (a int)');
    await client.query('INSERT INTO reshaped VALUES (1)');
    const text = 'SELECT * FROM reshaped WHERE a = $1';
    for (let i = 0; i < 3; i++) await client.query(text, [1]);
    await client.query('ALTER TABLE reshaped ADD COLUMN b int DEFAULT 7');
    // The first run after the change is refused (0A000); the name is closed, and the next
    // run answers with the new columns.
    await expect(client.query(text, [1])).rejects.toMatchObject({ code: '0A000' });
    expect((await client.query(text, [1])).rows).toEqual([{ a: 1, b: 7 }]);
  });

  it('never names a statement marked to be planned each time', async () => {
    const text = `${PLANNED_EACH_TIME} SELECT $1::int AS n`;
    for (let i = 0; i < 5; i++) expect((await client.query(text, [i])).rows).toEqual([{ n: i }]);
    expect(await preparedTexts()).not.toContain(text);
  });

  it('keeps at most 64, closing the least recently used', async () => {
    const texts = Array.from({ length: 80 }, (_, i) => `SELECT $1::int + ${i} AS n`);
    for (const text of texts) for (let i = 0; i < 3; i++) await client.query(text, [1]);
    await client.query('SELECT 1');
    const prepared = await preparedTexts();
    expect(prepared.length).toBeLessThanOrEqual(64);
    expect(prepared).toContain(texts.at(-1));
    expect(prepared).not.toContain(texts[0]);
  });
});
