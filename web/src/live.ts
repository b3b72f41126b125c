/**
 * The live event stream (GET /api/events): one WebSocket per tab, resumed from the last seq
 * after any drop, so the desk never misses an event and never polls. The messages, their
 * payloads and the close codes are the server's own (src/events.ts, which imports nothing).
 */
import { CLOSE_CODES, type EventMessage, type ServerMessage } from '../../src/events';

/** One event of the log; `type` tells the payload's shape. */
export type LiveEvent = EventMessage;

type Handler = (event: LiveEvent) => void;
type StatusHandler = (connected: boolean) => void;

export class LiveEvents {
  private socket: WebSocket | null = null;
  private lastSeq: number | null = null;
  private stopped = false;
  private retryMs = 500;
  /** Null until the first connection is ready or fails. */
  private connected: boolean | null = null;
  private readonly handlers = new Set<Handler>();
  private readonly statusHandlers = new Set<StatusHandler>();

  constructor(private readonly onUnauthorized: () => void) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close(1000);
    this.socket = null;
  }

  subscribe(handler: Handler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Calls `handler` with the status now, when known, and on every change. */
  onStatus(handler: StatusHandler): () => void {
    this.statusHandlers.add(handler);
    if (this.connected !== null) handler(this.connected);
    return () => this.statusHandlers.delete(handler);
  }

  private connect(): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const after = this.lastSeq === null ? '' : `?after=${this.lastSeq}`;
    const socket = new WebSocket(`${scheme}://${location.host}/api/events${after}`);
    this.socket = socket;
    socket.onmessage = (message) => {
      const data = JSON.parse(String(message.data)) as ServerMessage;
      this.lastSeq = Math.max(this.lastSeq ?? 0, data.seq);
      if (data.type === 'ready') {
        this.retryMs = 500;
        this.connected = true;
        for (const handler of this.statusHandlers) handler(true);
        return;
      }
      for (const handler of this.handlers) handler(data);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.connected = false;
      for (const handler of this.statusHandlers) handler(false);
      if (this.stopped) return;
      if (close.code === CLOSE_CODES.unauthorized) {
        this.onUnauthorized();
        return;
      }
      if (close.code === CLOSE_CODES.badResume) this.lastSeq = null;
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }
}
