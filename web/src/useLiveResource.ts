/**
 * Data that the server's event log keeps fresh: loaded once, then loaded again when a
 * relevant live event arrives or the live stream reconnects (events may have been missed
 * while it was down). Refreshes are throttled so that a burst of events (a queue draining,
 * a busy conversation) costs one request per `throttleMs`, not one per event. No polling.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { errorText } from './api';
import type { LiveEvent } from './live';
import { useSession } from './session';

export interface LiveResource<T> {
  data: T | null;
  /** Date.now() when `data` arrived: the moment its durations were true. */
  loadedAt: number | null;
  error: string | null;
  /** Asks for fresh data (after an action of this page), within the same throttle. */
  refresh: () => void;
}

/**
 * `load` must be stable (useCallback) and changes when what to load changes (a filter);
 * the resource then starts again from nothing. Live refreshes replace data in place.
 */
export function useLiveResource<T>(
  load: () => Promise<T>,
  isRelevant: (event: LiveEvent) => boolean,
  throttleMs = 300,
): LiveResource<T> {
  const { live } = useSession();
  const [state, setState] = useState<Omit<LiveResource<T>, 'refresh'>>({
    data: null,
    loadedAt: null,
    error: null,
  });
  // Requests may overlap and answer out of order; only answers newer than the one shown count.
  const issued = useRef(0);
  const applied = useRef(0);

  const fetchNow = useCallback(() => {
    const seq = ++issued.current;
    load().then(
      (data) => {
        if (seq <= applied.current) return;
        applied.current = seq;
        setState({ data, loadedAt: Date.now(), error: null });
      },
      (failure: unknown) => {
        if (seq <= applied.current) return;
        applied.current = seq;
        setState((s) => ({ ...s, error: errorText(failure) }));
      },
    );
  }, [load]);

  // The timer calls the latest fetchNow, and events the latest predicate, without
  // resubscribing to the stream on every render.
  const latest = useRef({ fetchNow, isRelevant });
  useLayoutEffect(() => {
    latest.current = { fetchNow, isRelevant };
  });

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const schedule = useCallback(() => {
    if (timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current.fetchNow();
    }, throttleMs);
  }, [throttleMs]);

  // A new `load` asks for other data (another filter): what is shown, and answers still on
  // their way, belong to the old one and must not appear under the new one.
  useEffect(() => {
    applied.current = issued.current;
    setState({ data: null, loadedAt: null, error: null });
    fetchNow();
  }, [fetchNow]);

  useEffect(() => {
    const offEvent = live.subscribe((event) => {
      if (latest.current.isRelevant(event)) schedule();
    });
    const offStatus = live.onStatus((connected) => {
      if (connected) schedule();
    });
    return () => {
      offEvent();
      offStatus();
      if (timer.current !== null) clearTimeout(timer.current);
      timer.current = null;
    };
  }, [live, schedule]);

  return { ...state, refresh: schedule };
}

/** Whether the live stream is up: null until it says so either way (it may be up already). */
export function useLiveConnected(): boolean | null {
  const { live } = useSession();
  const [connected, setConnected] = useState<boolean | null>(null);
  useEffect(() => live.onStatus(setConnected), [live]);
  return connected;
}
