import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

/** The `ws` client, as far as the tests use it (its type declarations are not installed). */
export interface WsClient {
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(
    event: 'unexpected-response',
    listener: (request: { destroy(): void }, response: IncomingMessage) => void,
  ): void;
  on(event: 'error', listener: (error: Error) => void): void;
  close(): void;
  pause(): void;
  resume(): void;
}
type WsClientConstructor = new (
  url: string,
  options?: { headers?: Record<string, string> },
) => WsClient;
export const { WebSocket } = createRequire(import.meta.url)('ws') as {
  WebSocket: WsClientConstructor;
};

/** The status a WebSocket upgrade of `url` gets: 101 when it becomes a socket. */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (request, response) => {
      request.destroy();
      resolve(response.statusCode ?? 0);
    });
    socket.on('error', reject);
  });
}
