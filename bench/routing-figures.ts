/**
 * The conversation of bench/serve-parley.ts's stdin: what it says of the conversations
 * opened since it was last asked (how many were offered, how fast, queued → offered).
 */
import type { ChildProcess } from 'node:child_process';
import { waitForOutput } from '../test/helpers/processes.js';

export interface RoutingFigures {
  conversations: number;
  offered: number;
  offered_per_second: number | null;
  /** Queued → offered, ms. */
  p50: number | null;
  p99: number | null;
}

export async function routingFigures(server: ChildProcess): Promise<RoutingFigures> {
  const answer = waitForOutput(server, /routing (\{.*\})\n/);
  server.stdin!.write('routing\n');
  return JSON.parse((await answer)[1]!) as RoutingFigures;
}

/**
 * For a load generator started with BENCH_AWAIT_GO=1: once it has opened its conversations,
 * waits until the server's routing has placed them, then lets it measure.
 */
export async function awaitOpenedAndPlaced(
  load: ChildProcess,
  server: ChildProcess,
): Promise<void> {
  try {
    await waitForOutput(load, /^opened$/m);
    await routingFigures(server);
  } catch (error) {
    load.kill();
    throw error;
  }
  load.stdin!.write('go\n');
}

export function describeRouting(r: RoutingFigures): string {
  return `${r.offered} of ${r.conversations} offered, ${(r.offered_per_second ?? 0).toFixed(0)}/s; queued → offered p50 ${(r.p50 ?? 0).toFixed(0)} ms, p99 ${(r.p99 ?? 0).toFixed(0)} ms`;
}
