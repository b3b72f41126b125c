import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asText, PgliteThread } from './pglite-thread.js';

let own: PGlite;
let thread: PgliteThread;
beforeAll(async () => {
  [own, thread] = await Promise.all([
    PGlite.create(),
    PgliteThread.open(undefined, PGlite.defaultStartParams),
  ]);
});
afterAll(async () => {
  await own?.close();
  await thread?.close();
});

describe('the embedded store in its own thread', () => {
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
    const expected = await own.query(text, params);
    const answered = await thread.query(text, params);
    expect(answered.rows).toEqual(expected.rows);
    expect(answered.fields).toEqual(expected.fields);
    const arrays = await thread.query<{ a: unknown }>('SELECT $1::int[] AS a', [[1, 2, 3]]);
    expect(arrays.rows).toEqual([{ a: [1, 2, 3] }]);
  });

  it('reports an error with its SQLSTATE and constraint, and stays usable', async () => {
    await expect(thread.query('SELECT $1::int', ['not a number'])).rejects.toMatchObject({
      code: '22P02',
    });
    await thread.exec('CREATE TABLE keyed (k int CONSTRAINT keyed_pkey PRIMARY KEY)');
    await thread.query('INSERT INTO keyed VALUES (1)');
    await expect(thread.query('INSERT INTO keyed VALUES (1)')).rejects.toMatchObject({
      code: '23505',
      constraint: 'keyed_pkey',
    });
    expect((await thread.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('runs a transaction alone: a query from outside waits for it to end', async () => {
    await thread.query('CREATE TABLE counted (n int)');
    const order: string[] = [];
    let inside!: () => void;
    const started = new Promise<void>((resolve) => {
      inside = resolve;
    });
    const tx = thread.transaction(async (t) => {
      await t.query('INSERT INTO counted VALUES ($1)', [1]);
      inside();
      await new Promise((resolve) => setImmediate(resolve));
      order.push('transaction');
      await t.query('INSERT INTO counted VALUES ($1)', [2]);
    });
    await started;
    const outside = thread.query<{ n: number }>('SELECT count(*)::int AS n FROM counted');
    await tx;
    order.push('outside');
    expect((await outside).rows[0]!.n).toBe(2);
    expect(order).toEqual(['transaction', 'outside']);
  });

  it('rolls a transaction back when its callback throws, and when a statement failed', async () => {
    await thread.query('CREATE TABLE kept (n int)');
    await expect(
      thread.transaction(async (t) => {
        await t.query('INSERT INTO kept VALUES (1)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await expect(
      thread.transaction(async (t) => {
        await t.query('INSERT INTO kept VALUES (2)');
        await t.query('SELECT 1/0').catch(() => undefined);
      }),
    ).rejects.toThrow('rolled back');
    const { rows } = await thread.query<{ n: number }>('SELECT count(*)::int AS n FROM kept');
    expect(rows[0]!.n).toBe(0);
  });

  it('hands notifications to listeners once their transaction commits, until unlisten', async () => {
    const heard: string[] = [];
    const unlisten = await thread.listen('wake_up', (payload) => heard.push(payload));
    await thread.transaction(async (t) => {
      await t.query("SELECT pg_notify('wake_up', 'one')");
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual(['one']);
    await unlisten();
    await thread.query("SELECT pg_notify('wake_up', 'two')");
    expect(heard).toEqual(['one']);
  });

  it('writes arrays, quotes and nulls as PostgreSQL array literals', () => {
    expect(asText(['a', 'b "c"', null, 'd\\e'])).toBe('{"a","b \\"c\\"",NULL,"d\\\\e"}');
    expect(asText([[1, 2], [3]])).toBe('{{"1","2"},{"3"}}');
    expect(asText(undefined)).toBe(null);
  });

  it('refuses queries once closed', async () => {
    const closing = await PgliteThread.open(undefined, PGlite.defaultStartParams);
    await closing.close();
    expect(closing.closed).toBe(true);
    await expect(closing.query('SELECT 1')).rejects.toThrow('closed');
  });
});
