import { describe, expect, it } from 'vitest';
import type { Executor } from '../db/store.js';
import {
  type Candidate,
  CandidatePool,
  type LoadRanked,
  type RankKey,
  type Strategy,
} from './candidate-pool.js';

/**
 * A queue's rank index as the database keeps it (agents.ts, rankedCandidates): members with
 * room ordered by (rank, idle, id), read after a key. Counts the rows it hands out, which is
 * what a pass pays for.
 */
function rankIndex(strategy: Strategy, members: Candidate[]) {
  const keyOf = (agent: Candidate): RankKey => {
    const idleMs =
      strategy === 'round-robin' ? Number.NEGATIVE_INFINITY : (agent.lastEndedAt ?? -Infinity);
    return {
      rank: strategy === 'least-busy' ? agent.load.sms - agent.capacity.sms : 0,
      idle: Number.isFinite(idleMs) ? new Date(idleMs).toISOString() : '-infinity',
      idleMs,
      id: agent.id,
    };
  };
  const compare = (a: RankKey, b: RankKey) =>
    a.rank - b.rank || a.idleMs - b.idleMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const index = { rowsRead: 0 };
  const load: LoadRanked = async (_db, after, limit) => {
    const page = members
      .map((agent) => ({ agent, key: keyOf(agent) }))
      .filter(({ key }) => after === null || compare(key, after) > 0)
      .sort((a, b) => compare(a.key, b.key))
      .slice(0, limit);
    index.rowsRead += page.length;
    return page;
  };
  return { index, load };
}

function members(count: number): Candidate[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    lastEndedAt: 1_000_000 + ((i * 7919) % count),
    capacity: { sms: 3, whatsapp: 3, messenger: 3 },
    load: { sms: 0, whatsapp: 0, messenger: 0 },
    gone: false,
  }));
}

const db = {} as Executor;

describe('a candidate pool reads only the front of a large queue', () => {
  it.each(['longest-idle', 'least-busy'] as const)(
    '%s: one page for the first choice',
    async (strategy) => {
      const queue = members(2000);
      const { index, load } = rankIndex(strategy, queue);
      const pool = new CandidatePool(strategy, 'sms', load);
      const first = await pool.best(db, new Map(), null);
      const byIdle = [...queue].sort((a, b) => a.lastEndedAt! - b.lastEndedAt!);
      expect(first?.id).toBe(byIdle[0]!.id);
      expect(index.rowsRead).toBe(16);
    },
  );

  it('round-robin: one page for the member after the cursor the pass began with', async () => {
    const queue = members(2000);
    const { index, load } = rankIndex('round-robin', queue);
    const cursor = queue[1234]!.id;
    const pool = new CandidatePool('round-robin', 'sms', load, { start: cursor });
    expect((await pool.best(db, new Map(), cursor))?.id).toBe(queue[1235]!.id);
    expect(index.rowsRead).toBe(16);
  });

  it('round-robin: wraps to the first member after the last', async () => {
    const queue = members(40);
    const { index, load } = rankIndex('round-robin', queue);
    const pool = new CandidatePool('round-robin', 'sms', load, { start: queue[38]!.id });
    expect((await pool.best(db, new Map(), queue[39]!.id))?.id).toBe(queue[0]!.id);
    // The one member after the start, then a page (32) of the second lap from the first.
    expect(index.rowsRead).toBe(33);
  });
});
