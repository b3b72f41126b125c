/**
 * The live event stream (GET /api/events): one WebSocket per tab, resumed from the last seq
 * after any drop, so the desk never misses an event and never polls.
 */

export interface LiveEvent {
  seq: number;
  type: string;
  conversationId: string | null;
  agentId: string | null;
  payload: Record<string, unknown>;
  createdAt: string;
}

type Handler = (event: LiveEvent) => void;
type StatusHandler = (connected: boolean) => void;

/** Close codes from src/realtime/protocol.ts after which resuming makes no sense. */
const UNAUTHORIZED = 4401;
const BAD_RESUME = 4400;

export class LiveEvents {
  private socket: WebSocket | null = null;
  private lastSeq: number | null = null;
  private stopped = false;
  private retryMs = 500;
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

  onStatus(handler: StatusHandler): () => void {
    this.statusHandlers.add(handler);
    return () => this.statusHandlers.delete(handler);
  }

  private connect(): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const after = this.lastSeq === null ? '' : `?after=${this.lastSeq}`;
    const socket = new WebSocket(`${scheme}://${location.host}/api/events${after}`);
    this.socket = socket;
    socket.onmessage = (message) => {
      const data = JSON.parse(String(message.data)) as LiveEvent | { type: 'ready'; seq: number };
      this.lastSeq = Math.max(this.lastSeq ?? 0, data.seq);
      if (data.type === 'ready') {
        this.retryMs = 500;
        for (const handler of this.statusHandlers) handler(true);
        return;
      }
      for (const handler of this.handlers) handler(data as LiveEvent);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const handler of this.statusHandlers) handler(false);
      if (this.stopped) return;
      if (close.code === UNAUTHORIZED) {
        this.onUnauthorized();
        return;
      }
      if (close.code === BAD_RESUME) this.lastSeq = null;
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }
}
