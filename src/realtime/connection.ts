/**
 * One client of the live-event socket: it first reads what it missed from the log itself,
 * page by page at the pace the client reads, then joins the tail for live events. Closes
 * itself when the client falls too far behind, stops answering pings, or signs out.
 */
import type { FastifyBaseLogger } from 'fastify';
import { type AuthUser, authenticateToken, type TokenKind } from '../auth/sessions.js';
import { type ConversationReaders, readersOf } from '../conversations/access.js';
import type { Db } from '../db/store.js';
import { lastEventSeq, readEventsAfter } from '../event-log.js';
import { CLOSE_CODES, type ReadyMessage } from '../events.js';
import { eventMessage } from './protocol.js';
import type { LiveSubscriber, LogTail, OutgoingEvent } from './tailer.js';
import { conversationIdsOf, mayView, NO_READERS, needsReaders, type Viewer } from './visibility.js';

/**
 * What the gateway uses of a server-side WebSocket of the `ws` library (whose types are
 * not installed; @fastify/websocket hands its sockets over untyped).
 */
export interface GatewaySocket {
  readonly bufferedAmount: number;
  /** The callback runs once the data is written to the network, or with the error. */
  send(data: string, callback?: (error?: Error) => void): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'close' | 'pong', listener: () => void): unknown;
}

export interface ConnectionSettings {
  db: Db;
  tail: LogTail;
  logger: FastifyBaseLogger;
  /** Events read from the log per page while catching up. */
  pageSize: number;
  /** Bytes a live connection may have waiting to go out before it is closed as lagging. */
  maxBufferedBytes: number;
  /** How often the client is pinged; one missed pong closes it. */
  heartbeatMs: number;
  /** How often the session or token is checked again (sign-out, expiry, disabled user, role). */
  reauthenticateMs: number;
  onEnd(connection: Connection): void;
}

export class Connection implements LiveSubscriber {
  #state: 'catching-up' | 'live' | 'closed' = 'catching-up';
  /** How far along the log this client has been brought, sent or filtered out. */
  #cursor = 0;
  #viewer: Viewer;
  #answered = true;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #reauthenticate: NodeJS.Timeout;
  readonly #log: FastifyBaseLogger;
  readonly #tokenKind: TokenKind;

  constructor(
    private readonly socket: GatewaySocket,
    user: AuthUser,
    private readonly token: string,
    private readonly settings: ConnectionSettings,
  ) {
    this.#viewer = { id: user.id, role: user.role };
    this.#tokenKind = user.tokenKind;
    this.#log = settings.logger.child({ userId: user.id, sessionId: user.sessionId });
    socket.on('close', () => this.#end());
    socket.on('pong', () => {
      this.#answered = true;
    });
    this.#heartbeat = setInterval(() => this.#ping(), settings.heartbeatMs);
    this.#reauthenticate = setInterval(() => {
      this.#checkSession().catch((error: unknown) => {
        // A database hiccup is no reason to drop the client; the next check decides.
        this.#log.warn({ err: error }, 'could not check the session of a live connection');
      });
    }, settings.reauthenticateMs);
  }

  get viewer(): Viewer {
    return this.#viewer;
  }

  /** Brings the client up to date from `after` (or from now), then live. */
  async start(after: number | undefined): Promise<void> {
    try {
      await this.settings.tail.start();
      if (this.#state !== 'catching-up') return;
      if (after === undefined) {
        this.#cursor = this.settings.tail.position;
        // Joining at the tail's own position, with nothing awaited since reading it.
        this.settings.tail.join(this, this.#cursor);
        this.#goLive();
      } else {
        await this.#catchUp(after);
      }
    } catch (error) {
      this.#log.error({ err: error }, 'live events connection failed');
      this.close(CLOSE_CODES.internalError, 'server error; reconnect with after=<last seq>');
    }
  }

  async #catchUp(after: number): Promise<void> {
    const { db, tail, pageSize } = this.settings;
    this.#cursor = after;
    for (let first = true; this.#state === 'catching-up'; first = false) {
      const events = await readEventsAfter(db, this.#cursor, pageSize);
      // Every seq a client saw was committed, so the log never ends before it.
      if (
        first &&
        events.length === 0 &&
        after > tail.position &&
        after > (await lastEventSeq(db))
      ) {
        this.close(
          CLOSE_CODES.badResume,
          'after is beyond the end of the event log; reload and reconnect without it',
        );
        return;
      }
      const readers: ConversationReaders = needsReaders(this.#viewer)
        ? await readersOf(db, conversationIdsOf(events))
        : NO_READERS;
      if (this.#state !== 'catching-up') return;
      let lastSent: string | undefined;
      for (const event of events) {
        if (!mayView(this.#viewer, event, readers)) continue;
        if (lastSent !== undefined) this.socket.send(lastSent);
        lastSent = JSON.stringify(eventMessage(event));
      }
      if (events.length > 0) this.#cursor = events.at(-1)!.seq;
      // The next page is read once this one is on its way: a slow reader slows its own
      // catch-up instead of piling pages up in memory.
      if (lastSent !== undefined) await this.#sendFlushed(lastSent);
      if (this.#state !== 'catching-up') return;
      if (events.length < pageSize && tail.join(this, this.#cursor)) {
        this.#goLive();
        return;
      }
    }
  }

  #sendFlushed(data: string): Promise<void> {
    return new Promise((resolve) => this.socket.send(data, () => resolve()));
  }

  #goLive(): void {
    this.#state = 'live';
    const ready: ReadyMessage = { type: 'ready', seq: this.#cursor };
    this.socket.send(JSON.stringify(ready));
  }

  deliver(batch: readonly OutgoingEvent[], readers: ConversationReaders): void {
    if (this.#state !== 'live') return;
    for (const { event, data } of batch) {
      if (event.seq <= this.#cursor) continue;
      this.#cursor = event.seq;
      if (!mayView(this.#viewer, event, readers)) continue;
      this.socket.send(data);
      // The tail never waits for one client; a client that cannot keep up resumes later
      // from the log instead of growing this process's memory.
      if (this.socket.bufferedAmount > this.settings.maxBufferedBytes) {
        this.#log.info(
          { bufferedBytes: this.socket.bufferedAmount, seq: this.#cursor },
          'live events client too slow; closing it',
        );
        this.close(CLOSE_CODES.lagging, 'too far behind; reconnect with after=<last seq>');
        return;
      }
    }
  }

  /** Closes the socket with a code telling the client what to do next. */
  close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#end();
    this.socket.close(code, reason);
  }

  #ping(): void {
    if (!this.#answered) {
      this.#log.info('live events client stopped answering pings; dropping it');
      this.socket.terminate();
      return;
    }
    this.#answered = false;
    this.socket.ping();
  }

  async #checkSession(): Promise<void> {
    const user = await authenticateToken(this.settings.db, this.token, this.#tokenKind);
    if (this.#state === 'closed') return;
    if (!user || user.id !== this.#viewer.id) {
      this.close(CLOSE_CODES.unauthorized, 'the session has ended; sign in again');
      return;
    }
    this.#viewer = { id: user.id, role: user.role };
  }

  #end(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#heartbeat);
    clearInterval(this.#reauthenticate);
    this.settings.tail.leave(this);
    this.settings.onEnd(this);
  }
}
