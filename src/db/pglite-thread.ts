/**
 * The embedded store in a thread of its own. PGlite runs Postgres in WebAssembly on the
 * thread that calls it, so every statement used to hold up Parley's event loop: requests
 * waited to be read while the sequencer or routing ran theirs (the p99 of 1,000 webhooks/s
 * was the store's). Here PGlite lives in a worker (pglite-worker.ts) and this client speaks
 * to it as node-postgres speaks to a server: each query goes as one buffer of protocol
 * messages (Parse, Bind, Describe, Execute, Sync) and comes back as the bytes Postgres wrote,
 * which are parsed here with PGlite's own parser and type parsers. It offers what Drizzle's
 * PGlite driver and the store use of PGlite (query, exec, transaction, listen, close), with
 * PGlite's rule that a query from outside waits for an open transaction to end.
 *
 * Parley's parameters are sent as node-postgres sends them to a server, as text (strings,
 * numbers, booleans, dates, arrays, JSON), whose types the server infers from the statement.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type PGlite,
  parse,
  protocol,
  type QueryOptions,
  type Results,
  types,
} from '@electric-sql/pglite';

/** What the worker starts with. */
export interface ThreadStart {
  /** Where the database is; absent: in memory. */
  dataDir: string | undefined;
  startParams: string[];
}

export type ThreadRequest =
  | { id: number; op: 'exchange'; message: Uint8Array; syncToFs: boolean }
  | { id: number; op: 'close' };

export type ThreadReply =
  | { ready: true }
  | { failure: string; id?: number }
  | { id: number; data: Uint8Array | undefined };

type BackendMessage = Parameters<typeof parse.parseResults>[0][number];
type Parsers = Record<number | string, (value: string, typeId?: number) => unknown>;

interface ThreadTransaction {
  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>>;
  exec(text: string): Promise<Results[]>;
  rollback(): Promise<void>;
  readonly closed: boolean;
}

// The worker runs the module beside this one: pglite-worker.ts under tsx or vitest (through
// tsx's loader, registered in the worker), pglite-worker.js once compiled.
const here = fileURLToPath(import.meta.url);
const WORKER_URL = new URL(`./pglite-worker${extname(here)}`, import.meta.url);

function startWorker(start: ThreadStart): Worker {
  if (extname(here) !== '.ts') return new Worker(WORKER_URL, { workerData: start });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => {
  register();
  return import(${JSON.stringify(WORKER_URL.href)});
});`;
  return new Worker(boot, { eval: true, workerData: start });
}

/** A FIFO lock: PGlite's one session serves one transaction, or one query, at a time. */
class Turns {
  #last: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.#last.then(work, work);
    this.#last = turn.catch(() => {});
    return turn;
  }
}

export class PgliteThread {
  /** PGlite's type parsers, with its array types added once the database is open. */
  readonly parsers: Parsers = { ...types.parsers };
  #closed = false;
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (data: Uint8Array | undefined) => void; reject: (error: Error) => void }
  >();
  #nextId = 1;
  readonly #turns = new Turns();
  readonly #listeners = new Map<string, Set<(payload: string) => void>>();
  #failed: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  /** Starts the worker on the database in dataDir (in memory when absent). */
  static async open(dataDir: string | undefined, startParams: string[]): Promise<PgliteThread> {
    const worker = startWorker({ dataDir, startParams });
    const thread = new PgliteThread(worker);
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the PGlite thread exited (${code})`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (reply: ThreadReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if ('failure' in reply) reject(new Error(`PGlite did not start: ${reply.failure}`));
        else resolve();
      });
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    worker.on('message', (reply: ThreadReply) => thread.#settle(reply));
    worker.on('error', (error) => thread.#fail(error));
    worker.on('exit', (code) => thread.#fail(new Error(`the PGlite thread exited (${code})`)));
    await thread.#addArrayParsers();
    return thread;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** One statement, with its parameters; waits for an open transaction to end first. */
  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.#turns.run(() => this.#extended<T>(text, params, options, true));
  }

  /** Statements without parameters, in the simple protocol (BEGIN, LISTEN, several at once). */
  exec(text: string): Promise<Results[]> {
    return this.#turns.run(() => this.#simple(text, true));
  }

  /** BEGIN, the callback's queries, then COMMIT, or ROLLBACK when it throws. */
  transaction<T>(callback: (tx: ThreadTransaction) => Promise<T>): Promise<T> {
    return this.#turns.run(async () => {
      await this.#simple('BEGIN', false);
      let closed = false;
      const open = () => {
        if (closed) throw new Error('Transaction is closed');
      };
      const tx: ThreadTransaction = {
        query: <R>(text: string, params?: unknown[], options?: QueryOptions) => {
          open();
          return this.#extended<R>(text, params, options, false);
        },
        exec: (text: string) => {
          open();
          return this.#simple(text, false);
        },
        rollback: async () => {
          open();
          closed = true;
          await this.#simple('ROLLBACK', true);
        },
        get closed() {
          return closed;
        },
      };
      try {
        const result = await callback(tx);
        if (!closed) {
          closed = true;
          const messages = await this.#exchange(protocol.serialize.query('COMMIT'), true);
          // COMMIT of a transaction that failed answers ROLLBACK instead of an error.
          if (messages.some((m) => m.name === 'commandComplete' && commandOf(m) === 'ROLLBACK')) {
            throw new Error('Transaction was rolled back instead of committed');
          }
        }
        return result;
      } catch (error) {
        if (!closed) {
          closed = true;
          await this.#simple('ROLLBACK', true);
        }
        throw error;
      }
    });
  }

  /** LISTEN on channel; notifications come with the answer of whichever statement committed them. */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    let listeners = this.#listeners.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
      await this.exec(`LISTEN ${channel}`);
    }
    listeners.add(onNotify);
    return async () => {
      listeners.delete(onNotify);
      if (listeners.size === 0 && this.#listeners.get(channel) === listeners) {
        this.#listeners.delete(channel);
        if (!this.#closed) await this.exec(`UNLISTEN ${channel}`);
      }
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#turns.run(async () => {
      this.#closed = true;
      await this.#request({ id: this.#nextId++, op: 'close' });
    });
    await this.#worker.terminate();
  }

  async #extended<T>(
    text: string,
    params: unknown[] = [],
    options: QueryOptions | undefined,
    syncToFs: boolean,
  ): Promise<Results<T>> {
    const { serialize } = protocol;
    const message = Buffer.concat([
      serialize.parse({ text }),
      serialize.bind({ values: params.map(asText) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    const messages = await this.#exchange(message, syncToFs);
    return parse.parseResults(messages, this.parsers, options)[0] as Results<T>;
  }

  async #simple(text: string, syncToFs: boolean): Promise<Results[]> {
    const messages = await this.#exchange(protocol.serialize.query(text), syncToFs);
    return parse.parseResults(messages, this.parsers);
  }

  /** Sends one buffer of messages; answers Postgres' messages, or throws its error. */
  async #exchange(message: Uint8Array, syncToFs: boolean): Promise<BackendMessage[]> {
    if (this.#closed) throw new Error('PGlite is closed');
    const data = await this.#request({ id: this.#nextId++, op: 'exchange', message, syncToFs });
    const messages: BackendMessage[] = [];
    new protocol.Parser().parse(data!, (m) => messages.push(m as BackendMessage));
    let failure: Error | undefined;
    for (const m of messages) {
      if (m.name === 'error') failure ??= m as unknown as Error;
      if (m.name === 'notification') this.#notify(m as unknown as Notification);
    }
    if (failure) throw failure;
    return messages;
  }

  #request(request: ThreadRequest): Promise<Uint8Array | undefined> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.#worker.postMessage(request);
    });
  }

  #settle(reply: ThreadReply): void {
    if (!('id' in reply) || reply.id === undefined) return;
    const pending = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (!pending) return;
    if ('failure' in reply) pending.reject(new Error(reply.failure));
    else pending.resolve(reply.data);
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#failed = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #notify(notification: Notification): void {
    for (const listener of this.#listeners.get(notification.channel) ?? []) {
      listener(notification.payload);
    }
  }

  // PGlite adds a parser for each array type when it starts; so does this client.
  async #addArrayParsers(): Promise<void> {
    const { rows } = await this.query<{ oid: number; typarray: number }>(
      `SELECT b.oid, b.typarray
         FROM pg_catalog.pg_type a
         LEFT JOIN pg_catalog.pg_type b ON b.oid = a.typelem
        WHERE a.typcategory = 'A'
        GROUP BY b.oid, b.typarray
        ORDER BY b.oid`,
    );
    for (const { oid, typarray } of rows) {
      this.parsers[typarray] = (value: string) =>
        types.arrayParser(value, this.parsers[oid] as types.Parser, typarray);
    }
  }

  /** For Drizzle's PGlite driver, which takes a PGlite: the part of it Parley uses. */
  asPglite(): PGlite {
    return this as unknown as PGlite;
  }
}

interface Notification {
  channel: string;
  payload: string;
}

function commandOf(message: BackendMessage): string | undefined {
  return (message as unknown as { text?: string }).text;
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
