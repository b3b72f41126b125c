import type { FastifyBaseLogger } from 'fastify';

/** A background loop (timers, dispatchers) that the process starts after listening. */
export interface Worker {
  readonly name: string;
  /** Finishes the current unit of work and stops claiming more. */
  stop(): Promise<void>;
}

export interface LoopWorker extends Worker {
  /** Runs the next tick now instead of at the next interval (a wake-up hint). */
  wake(): void;
}

/**
 * A worker that runs `tick` every `intervalMs`, and at once when woken. A tick that reports
 * it did a full batch of work runs again straight away; one that names when work comes due
 * runs again then. Ticks never overlap; stop() waits
 * for the running one.
 */
export function startLoopWorker(options: {
  name: string;
  intervalMs: number;
  logger: FastifyBaseLogger;
  /**
   * Returns true when there may be more work right now, or the milliseconds until work is
   * known to come due, when that is sooner than the interval.
   */
  tick: () => Promise<boolean | number>;
}): LoopWorker {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = (async () => {
      let more: boolean | number = false;
      try {
        more = await options.tick();
      } catch (error) {
        options.logger.error({ err: error, worker: options.name }, 'worker tick failed');
      }
      running = undefined;
      if (stopped) return;
      if (more === true || again) {
        again = false;
        setImmediate(run);
      } else {
        const wait =
          typeof more === 'number'
            ? Math.min(Math.max(more, 0), options.intervalMs)
            : options.intervalMs;
        timer = setTimeout(run, wait);
      }
    })();
  };
  timer = setTimeout(run, 0);

  return {
    name: options.name,
    wake: run,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
