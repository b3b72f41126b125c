/**
 * The embedded store's own thread (see pglite-thread.ts): PGlite and the Postgres it runs in
 * WebAssembly live here, so that executing a statement never holds up Parley's event loop.
 * It takes protocol messages, one at a time in the order they came, and answers the raw
 * bytes Postgres wrote; parsing, types, transactions and notifications are the client's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import type { ThreadReply, ThreadRequest, ThreadStart } from './pglite-thread.js';

const port = parentPort!;
const start = workerData as ThreadStart;

async function handle(pg: PGlite, request: ThreadRequest): Promise<Uint8Array | undefined> {
  if (request.op === 'close') {
    await pg.close();
    return undefined;
  }
  const { data } = await pg.execProtocol(request.message, {
    syncToFs: request.syncToFs,
    throwOnError: false,
  });
  // A copy: the answer may be a view of the WebAssembly memory, which must stay here.
  return data.slice();
}

try {
  const pg = await PGlite.create(start.dataDir, { startParams: start.startParams });
  let previous: Promise<unknown> = Promise.resolve();
  port.on('message', (request: ThreadRequest) => {
    previous = previous.then(() =>
      handle(pg, request).then(
        (data) => {
          const reply: ThreadReply = { id: request.id, data };
          port.postMessage(reply, data ? [data.buffer as ArrayBuffer] : []);
        },
        (error: unknown) => {
          const reply: ThreadReply = {
            id: request.id,
            failure: error instanceof Error ? error.message : String(error),
          };
          port.postMessage(reply);
        },
      ),
    );
  });
  port.postMessage({ ready: true } satisfies ThreadReply);
} catch (error) {
  const failure = error instanceof Error ? (error.stack ?? error.message) : String(error);
  port.postMessage({ failure } satisfies ThreadReply);
}
