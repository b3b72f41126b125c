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

export const { WebSocket } = createRequire(import.meta.url)('ws') as {
  WebSocket: new (url: string, options?: { headers?: Record<string, string> }) => WsClient;
};
