/**
 * The order in which a queue's strategy prefers its agents, kept in memory for one
 * assignment pass so that each assignment costs a few steps instead of a query. The
 * database keeps every member's place in that order in an index (queue_members' ranks,
 * schema.ts), so the pool reads it a page at a time, from the front, only as far as the
 * pass needs: a 2,000-member queue costs one short page, not 2,000 rows. The pool only
 * proposes: whoever uses a candidate locks the agent's row and checks their load again in
 * the database, then reports back with `touched` (and `compact` now and then, to forget
 * agents without room).
 */
import type { Channel } from '../addresses.js';
import type { Executor } from '../db/store.js';

export type { Channel };
export type Strategy = 'longest-idle' | 'round-robin' | 'least-busy';

/** One agent as a pass sees them; the pools of every queue they are in share the object. */
export interface Candidate {
  readonly id: string;
  /** Epoch milliseconds their last conversation ended; null when they never ended one. */
  readonly lastEndedAt: number | null;
  readonly capacity: Record<Channel, number>;
  /** Conversations offered to or active with them (see agents.ts on why offers count). */
  readonly load: Record<Channel, number>;
  /** No longer eligible (presence, membership, skills changed): out for the rest of the pass. */
  gone: boolean;
}

/** A member's place in the strategy order as the database keeps it (queue_members' ranks). */
export interface RankKey {
  /** Load minus capacity for least-busy, 0 otherwise. */
  readonly rank: number;
  /** When their last conversation ended, as the database's text ('-infinity' for never). */
  readonly idle: string;
  /** The same in epoch milliseconds (-Infinity for never). */
  readonly idleMs: number;
  readonly id: string;
}

export interface RankedCandidate {
  readonly agent: Candidate;
  readonly key: RankKey;
}

/** Reads the members with room on the pool's channel ranked after `after`, in order. */
export type LoadRanked = (
  db: Executor,
  after: RankKey | null,
  limit: number,
) => Promise<RankedCandidate[]>;

export function freeCapacity(agent: Candidate, channel: Channel): number {
  return agent.gone ? 0 : agent.capacity[channel] - agent.load[channel];
}

/** Agents whose previous handovers of this conversation count against them: id → times. */
export type PreviousHolders = ReadonlyMap<string, number>;

// Once walks have stepped over this many agents without room, compact() drops them.
const COMPACT_AFTER = 64;
// What a pass reads first: most passes place a few conversations.
const FIRST_PAGE = 16;
// Pages grow to this size when a pass keeps needing more of the order.
const MAX_PAGE = 1024;

export class CandidatePool {
  /** The list strategies' agents, in the order loaded (round-robin's starts after `start`). */
  private list: Candidate[] = [];
  private skipped = 0;
  private readonly byId = new Map<string, Candidate>();
  private readonly heap: Heap<{ agent: Candidate; free: number }> | undefined;
  /** The last place loaded; null before the first page. */
  private frontier: RankKey | null = null;
  /** Round-robin's cursor when the pass began: its order starts after this agent. */
  private readonly start: string | null;
  /** Round-robin, having reached the last member: loading again from the first. */
  private wrapped = false;
  private complete = false;
  private pageSize: number;

  /** `firstPage`: how many to read first (later pages double it); `start`: as above. */
  constructor(
    readonly strategy: Strategy,
    readonly channel: Channel,
    private readonly load: LoadRanked,
    options: { firstPage?: number; start?: string | null } = {},
  ) {
    this.pageSize = options.firstPage ?? FIRST_PAGE;
    this.start = strategy === 'round-robin' ? (options.start ?? null) : null;
    if (strategy === 'least-busy') {
      this.heap = new Heap((a, b) => this.compare(a.agent, b.agent, null, a.free, b.free));
    }
  }

  /** Whether any agent of the pool has room on its channel. */
  async hasRoom(db: Executor): Promise<boolean> {
    return (await this.best(db, new Map(), null)) !== undefined;
  }

  /**
   * The agent with room the strategy prefers for one conversation: agents who never held it
   * come first (a rejected or missed conversation moves on); among the previous holders,
   * fewest times first, only when nobody else can take it. `cursor` is round-robin's last
   * offered agent.
   */
  async best(
    db: Executor,
    previous: PreviousHolders,
    cursor: string | null,
  ): Promise<Candidate | undefined> {
    const fresh = this.heap
      ? await this.bestOfHeap(db, previous)
      : await this.bestOfList(db, previous, cursor);
    if (fresh || previous.size === 0) return fresh;
    // Nobody fresh has room: the whole order is loaded by now.
    let best: Candidate | undefined;
    for (const [id, times] of previous) {
      const agent = this.byId.get(id);
      if (!agent || freeCapacity(agent, this.channel) <= 0) continue;
      const order = best ? times - previous.get(best.id)! || this.compare(agent, best, cursor) : -1;
      if (order < 0) best = agent;
    }
    return best;
  }

  /** Call after changing an agent's load or flags. */
  touched(agent: Candidate): void {
    const free = freeCapacity(agent, this.channel);
    if (this.heap && free > 0 && this.byId.has(agent.id)) this.heap.push({ agent, free });
  }

  /**
   * Drops the agents without room that walks keep stepping over. Call between transactions,
   * when no tentative load is pending, since a dropped agent stays out for the pass.
   */
  compact(): void {
    if (this.skipped < COMPACT_AFTER) return;
    this.skipped = 0;
    this.list = this.list.filter((agent) => freeCapacity(agent, this.channel) > 0);
  }

  /** Reads pages of the order until one adds an agent; false when the order is exhausted. */
  private async loadMore(db: Executor): Promise<boolean> {
    while (!this.complete) {
      const after =
        this.frontier ??
        (this.start !== null && !this.wrapped
          ? { rank: 0, idle: '-infinity', idleMs: Number.NEGATIVE_INFINITY, id: this.start }
          : null);
      const limit = this.pageSize;
      const page = await this.load(db, after, limit);
      this.pageSize = Math.min(MAX_PAGE, limit * 2);
      let lapEnded = page.length < limit;
      let added = 0;
      for (const { agent, key } of page) {
        // Round-robin's second lap ends where the first began.
        if (this.wrapped && this.start !== null && key.id > this.start) {
          lapEnded = true;
          break;
        }
        this.frontier = key;
        // Already loaded (their place moved since): the pass keeps what it knows of them.
        if (this.byId.has(agent.id)) continue;
        this.byId.set(agent.id, agent);
        added++;
        if (this.heap) this.heap.push({ agent, free: freeCapacity(agent, this.channel) });
        else this.list.push(agent);
      }
      if (lapEnded) {
        if (this.start !== null && !this.wrapped) {
          this.wrapped = true;
          this.frontier = null;
        } else {
          this.complete = true;
        }
      }
      if (added > 0) return true;
    }
    return false;
  }

  private async bestOfList(
    db: Executor,
    previous: PreviousHolders,
    cursor: string | null,
  ): Promise<Candidate | undefined> {
    const start =
      this.strategy === 'round-robin' && cursor !== null ? await this.indexAfter(db, cursor) : 0;
    const takes = (agent: Candidate): boolean => {
      if (freeCapacity(agent, this.channel) > 0) return !previous.has(agent.id);
      this.skipped++;
      return false;
    };
    for (let i = start; i < this.list.length || (await this.loadMore(db)); i++) {
      const agent = this.list[i]!;
      if (takes(agent)) return agent;
    }
    // Round-robin wraps around to the members up to the cursor.
    for (let i = 0; i < start; i++) {
      const agent = this.list[i]!;
      if (takes(agent)) return agent;
    }
    return undefined;
  }

  /**
   * Round-robin: the index of the first agent after `cursor` in this pass's order (ids after
   * the pass's start, then from the first id up to it), loading the order up to there.
   */
  private async indexAfter(db: Executor, cursor: string): Promise<number> {
    // The pass's own start is the last place in its order: the next is the first.
    if (cursor === this.start) return 0;
    const lap = (id: string) => (this.start !== null && id <= this.start ? 1 : 0);
    const isAfter = (id: string) =>
      lap(id) > lap(cursor) || (lap(id) === lap(cursor) && id > cursor);
    for (;;) {
      let low = 0;
      let high = this.list.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (isAfter(this.list[mid]!.id)) high = mid;
        else low = mid + 1;
      }
      if (low < this.list.length || !(await this.loadMore(db))) return low;
    }
  }

  private async bestOfHeap(
    db: Executor,
    previous: PreviousHolders,
  ): Promise<Candidate | undefined> {
    for (;;) {
      const best = this.bestInHeap(previous);
      // An agent not loaded yet may come before one whose room fell behind the last page.
      if (this.complete || (best && this.beforeFrontier(best))) return best;
      if (!(await this.loadMore(db))) return this.bestInHeap(previous);
    }
  }

  /** Whether the agent, with the room this pass left them, ranks at or before the last page. */
  private beforeFrontier(agent: Candidate): boolean {
    const frontier = this.frontier;
    if (!frontier) return false;
    const rank = -freeCapacity(agent, this.channel);
    if (rank !== frontier.rank) return rank < frontier.rank;
    const idle = agent.lastEndedAt ?? Number.NEGATIVE_INFINITY;
    if (idle !== frontier.idleMs) return idle < frontier.idleMs;
    return agent.id <= frontier.id;
  }

  private bestInHeap(previous: PreviousHolders): Candidate | undefined {
    const heap = this.heap!;
    const kept: { agent: Candidate; free: number }[] = [];
    const seen = new Set<string>();
    let best: Candidate | undefined;
    while (heap.size > 0 && !best) {
      const entry = heap.pop()!;
      const free = freeCapacity(entry.agent, this.channel);
      // Without room, or a duplicate left by `touched`: the entry is dropped (touched pushes
      // a new one if the agent gets room back).
      if (free <= 0 || seen.has(entry.agent.id)) continue;
      // The agent's load changed since the entry was pushed: place it again.
      if (free !== entry.free) {
        heap.push({ agent: entry.agent, free });
        continue;
      }
      seen.add(entry.agent.id);
      kept.push(entry);
      if (!previous.has(entry.agent.id)) best = entry.agent;
    }
    for (const entry of kept) heap.push(entry);
    return best;
  }

  /** The strategy's preference: negative when a comes first. */
  private compare(
    a: Candidate,
    b: Candidate,
    cursor: string | null,
    freeA = freeCapacity(a, this.channel),
    freeB = freeCapacity(b, this.channel),
  ): number {
    switch (this.strategy) {
      case 'round-robin': {
        // Members in id order, starting after the last offered one.
        const wrapA = cursor !== null && a.id <= cursor ? 1 : 0;
        const wrapB = cursor !== null && b.id <= cursor ? 1 : 0;
        return wrapA - wrapB || compareIds(a.id, b.id);
      }
      case 'least-busy':
        return freeB - freeA || compareIdle(a, b) || compareIds(a.id, b.id);
      case 'longest-idle':
        return compareIdle(a, b) || compareIds(a.id, b.id);
    }
  }
}

/** Never having ended a conversation counts as idle the longest. */
function compareIdle(a: Candidate, b: Candidate): number {
  return (
    (a.lastEndedAt ?? Number.NEGATIVE_INFINITY) - (b.lastEndedAt ?? Number.NEGATIVE_INFINITY) || 0
  );
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A binary min-heap under `compare`. */
class Heap<T> {
  private readonly data: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.data.length;
  }

  push(item: T): void {
    const data = this.data;
    data.push(item);
    let i = data.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(data[i]!, data[parent]!) >= 0) break;
      [data[i], data[parent]] = [data[parent]!, data[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const data = this.data;
    const top = data[0];
    const last = data.pop();
    if (data.length > 0 && last !== undefined) {
      data[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < data.length && this.compare(data[left]!, data[smallest]!) < 0) smallest = left;
        if (right < data.length && this.compare(data[right]!, data[smallest]!) < 0)
          smallest = right;
        if (smallest === i) break;
        [data[i], data[smallest]] = [data[smallest]!, data[i]!];
        i = smallest;
      }
    }
    return top;
  }
}
